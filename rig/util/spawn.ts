import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { InfraError } from '../errors.js';
import { logger } from '../log.js';

const log = logger('spawn');

export interface RunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunResult {
  /** The command line as run, for error messages. */
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A long-running child (qemu, dnsmasq, hostapd): started, watched, and stopped with a grace period. */
export interface ProcessHandle {
  readonly pid: number | undefined;
  readonly command: string;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdin: Writable | null;
  /** Settles when the process has exited, with its code or signal. Never rejects. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Every external tool (usbsdmux, uhubctl, qemu, dnsmasq ...) is run through a Spawner, so the
 * drivers can be tested against the tools' recorded output, failures included.
 */
export interface Spawner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  start(
    cmd: string,
    args: readonly string[],
    opts?: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: boolean },
  ): ProcessHandle;
}

export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

class ChildHandle implements ProcessHandle {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #running = true;

  constructor(
    private readonly child: ChildProcess,
    readonly command: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        log('%s: %s', command, err.message);
        this.#running = false;
        resolve({ code: 127, signal: null });
      });
      child.once('exit', (code, signal) => {
        this.#running = false;
        resolve({ code, signal });
      });
    });
  }

  get pid() {
    return this.child.pid;
  }
  get stdout() {
    return this.child.stdout;
  }
  get stderr() {
    return this.child.stderr;
  }
  get stdin() {
    return this.child.stdin;
  }
  get running() {
    return this.#running;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.#running) this.child.kill(signal);
  }

  async stop(graceMs = 3000): Promise<void> {
    if (!this.#running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export const realSpawner: Spawner = {
  run(cmd, args, opts = {}) {
    const command = commandLine(cmd, args);
    log('run %s', command);
    return new Promise((resolve, reject) => {
      const child = nodeSpawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: 'pipe' });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => child.kill('SIGKILL');
      if (opts.timeoutMs) timer = setTimeout(onAbort, opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        reject(
          e.code === 'ENOENT'
            ? new InfraError(`${cmd}: not installed (run npm run setup, or install it on this rig host)`, {
                tool: cmd,
              })
            : e,
        );
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        resolve({
          command,
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
      if (opts.input !== undefined) child.stdin.end(opts.input);
      else child.stdin.end();
    });
  },

  start(cmd, args, opts = {}) {
    const command = commandLine(cmd, args);
    log('start %s', command);
    const child = nodeSpawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    return new ChildHandle(child, command);
  },
};

/** Runs a tool and throws an infra error naming it, with its stderr, when it exits non-zero. */
export async function runChecked(
  spawner: Spawner,
  cmd: string,
  args: readonly string[],
  opts: RunOptions & { what?: string } = {},
): Promise<RunResult> {
  const res = await spawner.run(cmd, args, opts);
  if (res.code !== 0) {
    const why = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-3).join(' | ');
    throw new InfraError(
      `${opts.what ?? res.command}: exit ${res.code ?? res.signal}${why ? `: ${why}` : ''}`,
      {
        command: res.command,
        code: res.code,
        stderr: res.stderr,
      },
    );
  }
  return res;
}
