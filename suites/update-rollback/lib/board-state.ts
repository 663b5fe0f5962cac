import type { CommandResult, ConsoleShell, Dut } from '../../fixture.js';
import type { OsProfile } from '../../../rig/catalog/os-profile.js';
import { FailError } from '../../../rig/errors.js';
import { bootedCommand, renderCommand, type UpdateSettings } from './settings.js';

/**
 * Runs a shell command on the board: the console shell or SSH. The helpers here take this small
 * interface so they are tested against recorded outputs of the reference OS.
 */
export interface CommandRunner {
  run(command: string, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<CommandResult>;
}

/** Marks the command's own output lines on the console, apart from kernel and init messages. */
const OUT = '|';

/**
 * The console shell, with each line of the command's output prefixed (POSIX `sed`), so a kernel
 * or init message printed on the console meanwhile is not taken for a value; the exit code is
 * the command's, echoed inside the pipe.
 */
export function shellRunner(shell: ConsoleShell): CommandRunner {
  return {
    async run(command, opts) {
      const r = await shell.run(`{ (${command}); echo "@rc=$?"; } 2>&1 | sed 's/^/${OUT}/'`, opts);
      return unwrapPrefixed(r);
    },
  };
}

/** Reverses `shellRunner`'s framing: keeps the prefixed lines, reads the inner exit code. */
export function unwrapPrefixed(r: CommandResult): CommandResult {
  const ours = r.stdout
    .split(/\r?\n/)
    .map((l) => l.replace(/^[\r\s]+/, ''))
    .filter((l) => l.startsWith(OUT))
    .map((l) => l.slice(OUT.length));
  // The code follows the output on its own line, or on the last one when the output has no newline.
  let code = r.code;
  for (let i = ours.length - 1; i >= 0; i--) {
    const m = /@rc=(\d+)\s*$/.exec(ours[i]);
    if (!m) continue;
    code = Number(m[1]);
    const rest = ours[i].slice(0, m.index);
    if (rest) ours[i] = rest;
    else ours.splice(i, 1);
    break;
  }
  return { code, stdout: ours.join('\n'), stderr: '' };
}

export function dutRunner(dut: Dut): CommandRunner {
  return { run: (command, opts) => dut.exec(command, opts) };
}

/**
 * What the board says about its update state. `booted` is an opaque token (a slot name, a
 * deployment checksum): the suite only compares it with the one read before the update.
 */
export interface BoardState {
  booted: string;
  version: string;
  /** The booted system is on trial: not committed (marked good) yet. */
  trial: boolean;
  /** Bootloader variables; an unset one is absent. */
  bootenv: Record<string, string>;
  breadcrumbs: string[];
  /** How many boots of a new system the bootloader attempts, when the OS says. */
  bootlimit?: number;
}

export interface ReadOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Runs a profile command that must succeed; a failure is the image's fault, quoting its output. */
export async function mustRun(
  runner: CommandRunner,
  command: string,
  what: string,
  opts: ReadOptions = {},
): Promise<string> {
  const r = await runner.run(command, opts);
  if (r.code !== 0) {
    throw new FailError(
      `${what}: \`${command}\` exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
      {
        expected: 0,
        actual: r.code,
        stdout: r.stdout,
        stderr: r.stderr,
      },
    );
  }
  return r.stdout;
}

/** The last non-empty line: a console shell may echo a banner or a stray kernel message before. */
export function lastLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

export async function readBootenv(
  runner: CommandRunner,
  os: OsProfile,
  names: readonly string[],
  opts: ReadOptions = {},
): Promise<Record<string, string>> {
  const template = os.commands.bootenvGet;
  if (!template)
    throw new FailError(`OS profile ${os.file}: no commands.bootenvGet`, {
      file: os.file,
      field: 'commands.bootenvGet',
    });
  const out: Record<string, string> = {};
  for (const name of names) {
    // An unset variable makes `get` fail (reference OS): that is "absent", not an error.
    const r = await runner.run(renderCommand(template, { name }, 'commands.bootenvGet'), opts);
    if (r.code === 0) out[name] = lastLine(r.stdout);
  }
  return out;
}

export function parseBreadcrumbs(stdout: string): string[] {
  return stdout
    .split(/\s+/)
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

/** `1`, `true`, `yes` (any case) is on trial; `0`, `false`, `no` or nothing is committed. */
export function parseTrial(text: string, what: string): boolean {
  const v = lastLine(text).toLowerCase();
  if (v === '' || v === '0' || v === 'false' || v === 'no') return false;
  if (v === '1' || v === 'true' || v === 'yes') return true;
  throw new FailError(`${what}: expected 1 or 0, got "${v.slice(0, 80)}"`, { actual: v });
}

/**
 * Whether the booted system is on trial: the profile's `trial` command, else its trial variable
 * through `bootenvGet` (unset: committed), else false (the OS gives no way to tell).
 */
export async function readTrial(
  runner: CommandRunner,
  os: OsProfile,
  settings: UpdateSettings,
  opts: ReadOptions = {},
): Promise<boolean> {
  if (os.commands.trial)
    return parseTrial(
      await mustRun(runner, os.commands.trial, 'reading the trial state', opts),
      'commands.trial',
    );
  if (!os.commands.bootenvGet) return false;
  const env = await readBootenv(runner, os, [settings.trialVariable], opts);
  return (env[settings.trialVariable] ?? '0') !== '0';
}

export async function readBooted(
  runner: CommandRunner,
  os: OsProfile,
  opts: ReadOptions = {},
): Promise<string> {
  const booted = lastLine(
    await mustRun(runner, bootedCommand(os) ?? 'false', 'reading the booted slot or deployment', opts),
  );
  if (!booted)
    throw new FailError(
      `\`${bootedCommand(os)}\` (commands.booted) printed nothing: no booted slot or deployment`,
    );
  return booted;
}

export async function readBoardState(
  runner: CommandRunner,
  os: OsProfile,
  settings: UpdateSettings,
  opts: ReadOptions = {},
): Promise<BoardState> {
  const c = os.commands;
  const booted = await readBooted(runner, os, opts);
  const version = lastLine(await mustRun(runner, c.version, 'reading the OS version', opts));
  const trial = await readTrial(runner, os, settings, opts);
  const bootenv = c.bootenvGet ? await readBootenv(runner, os, settings.bootenv, opts) : {};
  // `ls` of an empty or missing folder may exit non-zero: no breadcrumbs.
  const crumbs = c.breadcrumbs ? await runner.run(c.breadcrumbs, opts) : undefined;
  return {
    booted,
    version,
    trial,
    bootenv,
    breadcrumbs: crumbs && crumbs.code === 0 ? parseBreadcrumbs(crumbs.stdout) : [],
    bootlimit: await readBootlimit(runner, os, settings, bootenv, opts),
  };
}

/** The limit: the profile's number, else its `bootlimit` command, else its bootlimit variable. */
async function readBootlimit(
  runner: CommandRunner,
  os: OsProfile,
  settings: UpdateSettings,
  bootenv: Record<string, string>,
  opts: ReadOptions,
): Promise<number | undefined> {
  const b = settings.bootlimit;
  if ('value' in b) return b.value;
  let text: string | undefined;
  if (os.commands.bootlimit)
    text = lastLine(await mustRun(runner, os.commands.bootlimit, 'reading the boot limit', opts));
  else if (os.commands.bootenvGet)
    text = bootenv[b.variable] ?? (await readBootenv(runner, os, [b.variable], opts))[b.variable];
  const v = Number(text);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

/** The sha256 of a file on the board, through the profile's `sha256` command. */
export async function fileSha256(
  runner: CommandRunner,
  os: OsProfile,
  file: string,
  opts: ReadOptions = {},
): Promise<string> {
  const template = os.commands.sha256;
  if (!template)
    throw new FailError(`OS profile ${os.file}: no commands.sha256`, {
      file: os.file,
      field: 'commands.sha256',
    });
  const out = await mustRun(
    runner,
    renderCommand(template, { file }, 'commands.sha256'),
    `checksumming ${file}`,
    opts,
  );
  const m = /\b([0-9a-f]{64})\b/i.exec(out);
  if (!m)
    throw new FailError(`checksumming ${file}: no sha256 in the output: ${out.trim().slice(0, 200)}`, {
      actual: out,
    });
  return m[1].toLowerCase();
}

export function formatState(s: BoardState): string {
  const env = Object.entries(s.bootenv)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `booted=${s.booted} version=${s.version} trial=${s.trial ? 1 : 0} ${env} breadcrumbs=[${s.breadcrumbs.join(', ')}]`;
}
