import { spawn } from 'node:child_process';
import { CLI, ROOT, TEST_HEALTH } from './cli.js';

/**
 * The CLI on a pseudo-terminal, as a person at a terminal runs it: python3's pty module gives it
 * the terminal (its stdin, stdout and stderr, with a window of 80x24), and this process plays
 * the keyboard and reads the screen through the pty's master.
 */
export interface PtyRun {
  readonly pid: number;
  /** Keys, as typed (a Ctrl-C is '\x03': the terminal delivers it as a byte in raw mode). */
  type(keys: string): void;
  /** Everything the terminal showed so far, escapes and \r included. */
  screen(): string;
  /** Resolves when what the terminal showed since `from` (an offset in screen()) matches. */
  waitFor(re: RegExp, opts?: { from?: number; timeoutMs?: number }): Promise<void>;
  /** Stops the terminal's python (its child gets SIGHUP when the master closes). */
  kill(signal: NodeJS.Signals): void;
  done: Promise<{ code: number | null; screen: string }>;
}

const PTY = 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';

export function cliInPty(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): PtyRun {
  const argv = ['sh', '-c', 'stty rows 24 cols 80; exec "$@"', 'sh', process.execPath, CLI, ...args];
  const child = spawn('python3', ['-c', PTY, ...argv], {
    cwd: ROOT,
    env: { ...process.env, HW_TEST_HEALTH: TEST_HEALTH, TERM: 'xterm', ...opts.env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let screen = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (b: Buffer) => {
    screen += b.toString('latin1');
    for (const w of [...waiters]) w();
  });
  let closed = false;
  const done = new Promise<{ code: number | null; screen: string }>((resolve) =>
    child.on('close', (code) => {
      // Before the waiters look: a wait for what the closed terminal never showed fails now.
      closed = true;
      for (const w of [...waiters]) w();
      resolve({ code, screen });
    }),
  );
  return {
    pid: child.pid!,
    type: (keys) => child.stdin.write(Buffer.from(keys, 'latin1')),
    screen: () => screen,
    kill: (signal) => child.kill(signal),
    done,
    waitFor(re, o = {}) {
      const from = o.from ?? 0;
      const timeoutMs = o.timeoutMs ?? 300_000;
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(screen.slice(from))) {
            cleanup();
            resolve();
          } else if (closed) {
            cleanup();
            reject(new Error(`the terminal closed before showing ${re}; it showed:\n${screen.slice(-3000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `${re} not shown in ${timeoutMs / 1000} s; the terminal showed:\n${screen.slice(-3000)}`,
            ),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}
