import type { CommandResult, ConsoleShell, Dut } from '../suite-api/contracts.js';
import type { OsProfile } from '../catalog/os-profile.js';
import { FailError } from '../errors.js';
import { renderCommand, type UpdateSettings } from './settings.js';

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

/** What the board says about its update state. */
export interface BoardState {
  slot: string;
  version: string;
  /** Bootloader variables; an unset one is absent. */
  bootenv: Record<string, string>;
  breadcrumbs: string[];
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

export async function readBoardState(
  runner: CommandRunner,
  os: OsProfile,
  settings: UpdateSettings,
  opts: ReadOptions = {},
): Promise<BoardState> {
  const c = os.commands;
  const slot = lastLine(await mustRun(runner, c.activeSlot ?? 'false', 'reading the active slot', opts));
  const version = lastLine(await mustRun(runner, c.version, 'reading the OS version', opts));
  const bootenv = await readBootenv(runner, os, settings.bootenv, opts);
  // `ls` of an empty or missing folder may exit non-zero: no breadcrumbs.
  const crumbs = c.breadcrumbs ? await runner.run(c.breadcrumbs, opts) : undefined;
  return {
    slot,
    version,
    bootenv,
    breadcrumbs: crumbs && crumbs.code === 0 ? parseBreadcrumbs(crumbs.stdout) : [],
  };
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
  return `slot=${s.slot} version=${s.version} ${env} breadcrumbs=[${s.breadcrumbs.join(', ')}]`;
}
