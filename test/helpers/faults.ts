import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { QmpClient } from '../../rig/qemu/qmp.js';
import type { RunSummary } from '../../rig/report/model.js';
import { validateJunit } from '../../rig/report/junit-schema/validate.js';
import { lockBoard } from '../../rig/runner/lock.js';
import { CLI, ROOT, TEST_HEALTH, type CliRun } from './cli.js';

/**
 * Fault injection from outside the controller, as an operator (or a flaky rig) would do it: find
 * the run's QEMU in /proc, kill or freeze it, or reach it on a QMP socket of the test's own. This
 * file reads /proc itself instead of reusing the runner's code, so a bug there cannot hide here.
 */

function argvOf(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw ? raw.split('\0').slice(0, -1) : undefined;
  } catch {
    return undefined;
  }
}

/** Every process whose command line mentions `text` (a disk path, a socket), but this one's. */
export function pidsMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .filter((e) => argvOf(Number(e))?.some((a) => a.includes(text)))
    .map(Number);
}

/** The SD card of a virtual board run without a lab file: what its QEMU has open. */
export function boardDisk(board: string): string {
  return path.join(os.homedir(), '.cache', 'hw-test', 'boards', board, 'sd.img');
}

/** The pid of the QEMU running a board's disk (throws when there is none or several). */
export function qemuPidOf(disk: string): number {
  const pids = pidsMentioning(`file=${disk},`);
  if (pids.length !== 1)
    throw new Error(`expected one QEMU on ${disk}, found ${pids.length}: ${pids.join(', ')}`);
  return pids[0];
}

/** The QMP sockets a QEMU listens on, from its command line (`-qmp unix:PATH,...`). */
export function qmpSocketsOf(pid: number): string[] {
  const argv = argvOf(pid) ?? [];
  return argv.flatMap((a, i) => (argv[i - 1] === '-qmp' ? [/^unix:([^,]+)/.exec(a)?.[1] ?? ''] : []));
}

/** The board is powered off: no process has its disk on its command line any more. */
export function poweredOff(disk: string): boolean {
  return pidsMentioning(`file=${disk},`).length === 0;
}

/** The lock is free: a second holder gets it at once (then lets it go). */
export async function lockIsFree(board: string): Promise<boolean> {
  try {
    const l = await lockBoard(board, { timeoutMs: 0 });
    await l.release();
    return true;
  } catch {
    return false;
  }
}

/**
 * The controller's QMP socket takes one client, so a faults board type adds a second one for the
 * test (`-qmp` in its `qemu.extraArgs`). Runs `fn` on a fresh connection to it.
 */
export async function withQmp<T>(socket: string, fn: (q: QmpClient) => Promise<T>): Promise<T> {
  const q = await QmpClient.connect(socket, { timeoutMs: 5000 });
  try {
    return await fn(q);
  } finally {
    q.close();
  }
}

/** The console's pty as QEMU reports it (`/dev/pts/N`), or `null` when it is on no device. */
export async function consoleDevice(q: QmpClient): Promise<string> {
  const devs = await q.execute<{ label: string; filename: string }[]>('query-chardev');
  return devs.find((d) => d.label === 'con')?.filename.replace(/^pty:/, '') ?? '';
}

/** Unplugs the serial "cable": the console's pty goes away while the board runs on. */
export async function unplugConsole(q: QmpClient): Promise<void> {
  await q.execute('chardev-change', { id: 'con', backend: { type: 'null', data: {} } });
}

/** Plugs it back in: a new pty (devpts gives the lowest free number, so usually the same path). */
export async function replugConsole(q: QmpClient): Promise<string> {
  const r = await q.execute<{ pty?: string }>('chardev-change', {
    id: 'con',
    backend: { type: 'pty', data: {} },
  });
  return r.pty ?? '';
}

export interface FaultBoardDir {
  dir: string;
  /** The test's own QMP socket of each board type written (by name). */
  qmp: Record<string, string>;
}

/**
 * A boards folder (for HW_TEST_BOARDS_DIR) with copies of qemu-x86-64 under other names: each gets
 * its own disk, lock and a QMP socket for the test; `timeouts` overrides some stage timeouts.
 */
export function faultBoards(
  dir: string,
  types: Record<string, Partial<Record<'bootloader' | 'kernel' | 'userspace' | 'login' | 'command', number>>>,
): FaultBoardDir {
  mkdirSync(dir, { recursive: true });
  const base = readFileSync(path.join(ROOT, 'boards', 'qemu-x86-64.yaml'), 'utf8');
  const qmp: Record<string, string> = {};
  for (const [name, timeouts] of Object.entries(types)) {
    qmp[name] = path.join(dir, `${name}.qmp`);
    let y = base.replace(/^name: qemu-x86-64$/m, `name: ${name}`);
    for (const [k, v] of Object.entries(timeouts))
      y = y.replace(new RegExp(`^  ${k}: \\d+$`, 'm'), `  ${k}: ${v}`);
    y = y.replace(
      /^ {2}nicModel: (.*)$/m,
      `  nicModel: $1\n  extraArgs: ['-qmp', 'unix:${qmp[name]},server=on,wait=off']`,
    );
    writeFileSync(path.join(dir, `${name}.yaml`), y);
  }
  return { dir, qmp };
}

/**
 * The run folder `latest` points to, and its summary; for a run refused before it opened the board
 * (bad input, quarantine), which writes its report without moving `latest`, the newest run folder.
 */
export function latestRun(reports: string, board: string): { dir: string; summary: RunSummary } {
  const link = path.join(reports, board, 'latest');
  const runs = readdirSync(path.join(reports, board)).filter((n) => n !== 'latest');
  const name = existsSync(link) || runs.length === 0 ? readlinkSync(link) : runs.sort()[runs.length - 1];
  const dir = path.join(reports, board, name);
  return { dir, summary: JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary };
}

/**
 * What every row of the matrix checks after the run: the verdict and exit code, the board off,
 * the lock free, and a complete report (summary.json, junit.xml valid against Jenkins' schema,
 * serial.log when the board was powered).
 */
export async function expectCleanEnd(o: {
  board: string;
  reports: string;
  code: number | null;
  stderr: string;
  verdict: RunSummary['verdict'];
  exitCode: number;
  /** serial.log is expected: the board was opened (its console existed). */
  serialLog: boolean;
  disk?: string;
  /** false when another run holds the board on purpose. */
  lockFree?: boolean;
}): Promise<{ dir: string; summary: RunSummary }> {
  expect(o.code, o.stderr).to.equal(o.exitCode);
  if (o.disk) expect(poweredOff(o.disk), `no QEMU left on ${o.disk}`).to.equal(true);
  expect(await lockIsFree(o.board), `the lock of ${o.board} is released`).to.equal(o.lockFree ?? true);
  const run = latestRun(o.reports, o.board);
  expect(run.summary.verdict, o.stderr).to.equal(o.verdict);
  expect(run.summary.exitCode).to.equal(o.exitCode);
  expect(run.summary.finishedAt).to.be.a('string');
  await validateJunit(path.join(run.dir, 'junit.xml'));
  expect(existsSync(path.join(run.dir, 'serial.log')), 'serial.log').to.equal(o.serialLog);
  return run;
}

export interface LiveCli {
  pid: number;
  stderr(): string;
  /** Resolves once stderr matches (checked on every chunk; never on a timer). */
  waitFor(re: RegExp): Promise<void>;
  kill(sig: NodeJS.Signals): void;
  done: Promise<CliRun>;
}

/** The real CLI in a child process, driven from outside while it runs. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): LiveCli {
  const child = spawn(process.execPath, ['--enable-source-maps', CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: 'true', HW_TEST_HEALTH: TEST_HEALTH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    for (const w of [...waiters]) {
      if (w.re.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const done = new Promise<CliRun>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return {
    pid: child.pid!,
    stderr: () => stderr,
    waitFor: (re) =>
      re.test(stderr)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiters.push({ re, resolve })),
            done.then((r) => {
              throw new Error(`the run ended (exit ${r.code}) before printing ${re}:\n${r.stderr}`);
            }),
          ]),
    kill: (sig) => child.kill(sig),
    done,
  };
}

/**
 * Polls a condition the kernel settles without telling anyone (a killed process reaped by init):
 * 50 ms steps, up to 5 s, then fails naming what it waited for.
 */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
