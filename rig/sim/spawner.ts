import { PassThrough } from 'node:stream';
import {
  commandLine,
  type ProcessHandle,
  type RunOptions,
  type RunResult,
  type Spawner,
} from '../util/spawn.js';

/** One recorded answer: what the real tool printed for a command line. */
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

/** A long-running tool's scripted behaviour: what it prints, and whether it exits at once. */
export interface StartScript {
  match: RegExp;
  stdout?: string;
  stderr?: string;
  /** Exit code when the tool fails at once; undefined: it keeps running until stopped. */
  exitCode?: number;
}

/** What a simulated tool answers, from the state it keeps (rig/sim/tool-sims.ts). */
export interface ToolReply {
  stdout?: string;
  stderr?: string;
  code?: number;
}

export type ToolSim = (
  cmd: string,
  args: readonly string[],
  opts?: RunOptions,
) => ToolReply | Promise<ToolReply>;

export interface FakeSpawnerOptions {
  /** Recorded answers, first match wins. */
  replay?: ReplayEntry[];
  /** A tool simulation, for what no recorded answer matches. */
  tool?: ToolSim;
  /** Long-running tools (a v2 gpioset holding a line, a QEMU failing at start). */
  scripts?: StartScript[];
}

/**
 * The fake spawner: tools answer from recorded output (replay), from a simulation that keeps
 * state (tool), or as scripted long-running processes, so drivers are tested against what the
 * real tools print, failures included. Every command it was asked to run is recorded. A command
 * nothing answers for is `command not found` (exit 127), as on a host without the tool.
 */
export class FakeSpawner implements Spawner {
  readonly calls: string[] = [];
  /** The processes started from scripts, in order (a test checks which are still running). */
  readonly running: ProcessHandle[] = [];
  /** Each run with its environment, in order. */
  readonly runs: { cmd: string; args: readonly string[]; env?: NodeJS.ProcessEnv }[] = [];
  private readonly entries: ReplayEntry[];

  constructor(private readonly opts: FakeSpawnerOptions = {}) {
    this.entries = [...(opts.replay ?? [])];
  }

  add(entry: ReplayEntry): this {
    this.entries.push(entry);
    return this;
  }

  async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const command = commandLine(cmd, args);
    this.calls.push(command);
    this.runs.push({ cmd, args, env: opts?.env });
    const reply = this.replayed(command) ?? (await this.opts.tool?.(cmd, args, opts));
    if (!reply)
      return { command, code: 127, signal: null, stdout: '', stderr: `${cmd}: command not found\n` };
    return {
      command,
      code: reply.code ?? 0,
      signal: null,
      stdout: reply.stdout ?? '',
      stderr: reply.stderr ?? '',
    };
  }

  private replayed(command: string): ReplayEntry | undefined {
    const i = this.entries.findIndex((e) =>
      typeof e.match === 'string' ? e.match === command : e.match.test(command),
    );
    if (i < 0) return undefined;
    const e = this.entries[i];
    if (e.times !== undefined && --e.times <= 0) this.entries.splice(i, 1);
    e.effect?.();
    return e;
  }

  start(cmd: string, args: readonly string[]): ProcessHandle {
    const command = commandLine(cmd, args);
    this.calls.push(command);
    const script = this.opts.scripts?.find((s) => s.match.test(command));
    if (script) {
      const handle = scripted(command, script, script.exitCode);
      this.running.push(handle);
      return handle;
    }
    const tool = this.opts.tool;
    if (!tool) return fakeProcess(command).handle;
    const reply = tool(cmd, args);
    if (reply instanceof Promise) throw new Error(`${cmd}: an async tool simulation cannot be started`);
    return scripted(command, reply, reply.code || undefined);
  }
}

/** A process that prints what it was given, then exits with `exitCode` or runs until stopped. */
function scripted(
  command: string,
  out: { stdout?: string; stderr?: string },
  exitCode?: number,
): ProcessHandle {
  const { handle, stdout, stderr, end } = fakeProcess(command);
  setImmediate(() => {
    if (out.stdout) stdout.write(out.stdout);
    if (out.stderr) stderr.write(out.stderr);
    if (exitCode !== undefined) setImmediate(() => end(exitCode, null));
  });
  return handle;
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
