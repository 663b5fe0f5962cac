import type { Console } from '../console/console.js';
import type { OsProfile } from '../catalog/os-profile.js';
import { FailError } from '../errors.js';
import type { CommandResult, ConsoleShell } from '../suite-api/contracts.js';

let nonce = 0;

/**
 * Runs commands on the console's shell. Output is framed by marker lines the command itself
 * prints (`@@HWT-n-start`, `@@HWT-n-rc=$?`), so neither the terminal's echo of what we typed nor
 * a kernel message printed in between can be mistaken for the command's output or exit code.
 */
export class ConsoleShellImpl implements ConsoleShell {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly console: Console,
    private readonly os: OsProfile,
    private readonly defaultTimeoutMs: number,
  ) {}

  run(command: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<CommandResult> {
    // One command at a time: the console is a single conversation.
    const next = this.queue.then(() => this.runNow(command, opts));
    this.queue = next.catch(() => {});
    return next;
  }

  private async runNow(
    command: string,
    opts: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<CommandResult> {
    const id = `@@HWT-${process.pid}-${++nonce}`;
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    this.console.skipPending();
    const startIndex = this.console.lines.length;
    // The markers are printed by the board, each on a line of its own (the prompt may precede the
    // first; the command's output may lack a final newline before the last). The typed text has
    // `$?`, never digits, so an echo of the input cannot match.
    await this.console.write(`echo; echo ${id}-start; ${command}; printf '\\n%s=%d\\n' ${id}-rc $?\n`);
    const m = await this.console.expect(new RegExp(`^${id}-rc=(\\d+)\\s*$`, 'm'), {
      timeoutMs,
      signal: opts.signal,
      errorClass: 'fail',
      what: `the end of \`${command}\` on the console`,
    });
    const lines = this.console.lines.slice(startIndex).map((l) => l.text);
    const start = lines.findIndex((l) => l.trim() === `${id}-start`);
    const end = lines.findIndex((l) => l.trim().startsWith(`${id}-rc=`));
    const body = start >= 0 ? lines.slice(start + 1, end >= 0 ? end : undefined) : [];
    // The newline printed before the exit-code marker, when the output already ended with one.
    if (body.length && body[body.length - 1] === '') body.pop();
    // Wait for the prompt, so the next command is not typed into this one's tail.
    await this.console.expect(new RegExp(this.os.console.shellPrompt, 'm'), {
      timeoutMs,
      signal: opts.signal,
      errorClass: 'fail',
      what: 'the shell prompt',
    });
    return { code: Number(m.match[1]), stdout: body.join('\n'), stderr: '' };
  }
}

/** Logs in on the console as the OS profile says; a rejected login is the image's fault. */
export async function consoleLogin(
  console: Console,
  os: OsProfile,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const c = os.console;
  const failOn = c.loginFailed
    ? [{ name: 'login-failed', pattern: new RegExp(c.loginFailed), severity: 'fatal' as const }]
    : [];
  if (c.user) {
    await console.write(`${c.user}\n`);
    if (c.password != null) {
      await console.expect(new RegExp(c.passwordPrompt ?? 'Password:\\s*$', 'm'), {
        timeoutMs,
        signal,
        failOn,
        what: 'the password prompt',
      });
      await console.write(`${c.password}\n`);
    }
  } else {
    await console.write('\n');
  }
  try {
    await console.expect(new RegExp(c.shellPrompt, 'm'), {
      timeoutMs,
      signal,
      failOn,
      what: 'the shell prompt after login',
    });
  } catch (err) {
    if (err instanceof FailError)
      throw new FailError(`login as ${c.user ?? '(no user)'} failed: ${err.message}`, err.context);
    throw err;
  }
  // No echo: what we type must not be taken for output (and long lines are not re-wrapped).
  await console.write('stty -echo 2>/dev/null\n');
  await console.expect(new RegExp(c.shellPrompt, 'm'), { timeoutMs, signal, what: 'the shell prompt' });
}
