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
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new InputError(
      `${command}: ${msg.replace(/^Unknown option/, 'unknown option')} (see hw-test ${command} --help)`,
    );
  }
}
