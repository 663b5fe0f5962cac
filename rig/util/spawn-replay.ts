import { PassThrough } from 'node:stream';
import { commandLine, type ProcessHandle, type RunOptions, type RunResult, type Spawner } from './spawn.js';

/** One scripted answer: what the real tool printed for a command line (recorded from the tool). */
export interface ReplayEntry {
  /** Matches the command line (`cmd arg arg`): a string for an exact match, or a RegExp. */
  match: string | RegExp;
  stdout?: string;
  stderr?: string;
  code?: number;
  /** Side effect when the command runs: flips simulated state, e.g. a block device appears. */
  effect?: () => void;
  /** Use this entry at most this many times (default: unlimited). */
  times?: number;
}

/**
 * A Spawner that replays what tools printed, for testing drivers without the hardware behind
 * the tools. Product code, not test code: `hw-test doctor --replay` and the virtual rig use it too.
 * It records every command it was asked to run.
 */
export class ReplaySpawner implements Spawner {
  readonly calls: string[] = [];
  private readonly entries: ReplayEntry[];

  constructor(entries: ReplayEntry[] = []) {
    this.entries = [...entries];
  }

  add(entry: ReplayEntry): this {
    this.entries.push(entry);
    return this;
  }

  run(cmd: string, args: readonly string[], _opts?: RunOptions): Promise<RunResult> {
    const command = commandLine(cmd, args);
    this.calls.push(command);
    const i = this.entries.findIndex((e) =>
      typeof e.match === 'string' ? e.match === command : e.match.test(command),
    );
    if (i < 0) {
      return Promise.resolve({
        command,
        code: 127,
        signal: null,
        stdout: '',
        stderr: `${cmd}: command not found\n`,
      });
    }
    const e = this.entries[i];
    if (e.times !== undefined && --e.times <= 0) this.entries.splice(i, 1);
    e.effect?.();
    return Promise.resolve({
      command,
      code: e.code ?? 0,
      signal: null,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    });
  }

  start(cmd: string, args: readonly string[]): ProcessHandle {
    const command = commandLine(cmd, args);
    this.calls.push(command);
    return fakeProcess(command).handle;
  }
}

/** A process that prints what it is told and ends when told (or killed): for simulated tools. */
export function fakeProcess(command: string): {
  handle: ProcessHandle;
  stdout: PassThrough;
  stderr: PassThrough;
  end: (code: number | null, signal: NodeJS.Signals | null) => void;
} {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let resolveExit: (v: { code: number | null; signal: NodeJS.Signals | null }) => void = () => {};
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (r) => (resolveExit = r),
  );
  let running = true;
  const end = (code: number | null, signal: NodeJS.Signals | null) => {
    if (!running) return;
    running = false;
    stdout.end();
    stderr.end();
    resolveExit({ code, signal });
  };
  const handle: ProcessHandle = {
    pid: undefined,
    command,
    stdout,
    stderr,
    stdin: null,
    exited,
    get running() {
      return running;
    },
    kill: (signal = 'SIGTERM') => end(null, signal),
    stop: async () => {
      end(null, 'SIGTERM');
      await exited;
    },
  };
  return { handle, stdout, stderr, end };
}
