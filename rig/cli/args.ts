import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../errors.js';

/** node's parseArgs with our error style: one line naming the option and pointing to --help. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: withNegatives(argv, options), options, allowPositionals, strict: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new InputError(
      `${command}: ${msg.replace(/^Unknown option/, 'unknown option')} (see hw-test ${command} --help)`,
    );
  }
}

/**
 * `--parallel -1`: parseArgs takes `-1` for an option and says "argument is ambiguous". A value
 * that looks like a negative number is joined to its option (`--parallel=-1`), so that the option's
 * own check says what it expects.
 */
function withNegatives(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
