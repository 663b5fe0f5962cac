import { parseArgs } from 'node:util';
import { InputError } from '../errors.js';

/**
 * One option of a command: what it is parsed as, and its line in --help. Each command has one
 * table; both its parsing and its --help come from it.
 */
export interface OptionSpec {
  readonly name: string;
  /** The value's placeholder (`NAME`, `FILE`); none: a flag. */
  readonly value?: string;
  readonly description: string;
  readonly default?: string;
  /** Repeatable: the values come as a list. */
  readonly multiple?: boolean;
  readonly short?: string;
}

export type OptionTable = readonly OptionSpec[];

type ValueOf<S extends OptionSpec> = S extends { value: string }
  ? S extends { multiple: true }
    ? string[] | undefined
    : S extends { default: string }
      ? string
      : string | undefined
  : boolean | undefined;

/** The parsed values of a table, typed by it. */
export type OptionValues<T extends OptionTable> = { [S in T[number] as S['name']]: ValueOf<S> };

type ParseConfig = Record<
  string,
  { type: 'string' | 'boolean'; default?: string; multiple?: boolean; short?: string }
>;

function parseConfig(table: OptionTable): ParseConfig {
  const config: ParseConfig = {};
  for (const o of table) {
    // parseArgs refuses keys present but undefined: only what the table says.
    config[o.name] = {
      type: o.value ? 'string' : 'boolean',
      ...(o.default !== undefined && { default: o.default }),
      ...(o.multiple && { multiple: true }),
      ...(o.short && { short: o.short }),
    };
  }
  return config;
}

/** node's parseArgs over a table, with our error style: one line naming the option and --help. */
export function parseOptions<T extends OptionTable>(
  command: string,
  argv: readonly string[],
  table: T,
  more: { positionals?: boolean; extra?: OptionTable } = {},
): { values: OptionValues<T>; extra: Record<string, string | undefined>; positionals: string[] } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  const options = parseConfig([...table, ...(more.extra ?? [])]);
  try {
    parsed = parseArgs({
      args: withNegatives(argv, options),
      options,
      allowPositionals: more.positionals ?? false,
      strict: true,
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new InputError(
      `${command}: ${msg.replace(/^Unknown option/, 'unknown option')} (see hw-test ${command} --help)`,
    );
  }
  const extra: Record<string, string | undefined> = {};
  for (const o of more.extra ?? []) {
    const v = parsed.values[o.name];
    extra[o.name] = typeof v === 'string' ? v : undefined;
  }
  return { values: parsed.values as OptionValues<T>, extra, positionals: parsed.positionals };
}

/**
 * `--parallel -1`: parseArgs takes `-1` for an option and says "argument is ambiguous". A value
 * that looks like a negative number is joined to its option (`--parallel=-1`), so that the option's
 * own check says what it expects.
 */
function withNegatives(argv: readonly string[], options: ParseConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    const next = argv[i + 1];
    if (
      name &&
      Object.hasOwn(options, name) &&
      options[name].type === 'string' &&
      next !== undefined &&
      /^-\d/.test(next)
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

const COLUMNS = 100;

/** The options of a table as --help lines, aligned, long descriptions wrapped. */
export function optionLines(table: OptionTable, indent = '  '): string[] {
  const heads = table.map((o) => `--${o.name}${o.value ? ` ${o.value}` : ''}`);
  const column = indent.length + Math.max(...heads.map((h) => h.length)) + 2;
  return table.flatMap((o, i) =>
    wrap(o.description, COLUMNS - column).map((text, j) =>
      j === 0 ? `${indent}${heads[i]}`.padEnd(column) + text : ' '.repeat(column) + text,
    ),
  );
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > Math.max(width, 30)) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** A command's --help: its synopsis, its options from its table, and notes. */
export function helpText(h: {
  synopsis: string;
  intro?: string;
  options: OptionTable;
  notes?: string;
}): string {
  return [h.synopsis, h.intro, optionLines(h.options).join('\n'), h.notes].filter(Boolean).join('\n\n');
}

/** `--image-sha256`: 64 hexadecimal digits, in either case. */
export function checkSha256(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(v)) {
    throw new InputError(`--image-sha256 ${v}: expected 64 hexadecimal digits (the output of sha256sum)`);
  }
  return v.toLowerCase();
}
