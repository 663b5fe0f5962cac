import type { ErrorClass } from '../errors.js';

/**
 * A board's console: a live byte stream with a timestamped log and `expect`.
 * Implementations: serialport on a UART (`serial.ts`, by /dev/serial/by-id, reopened after a USB
 * disconnect) or on a QEMU pty (the same code path), and `stream-console.ts` over any stream
 * (recorded streams in tests).
 *
 * Contract:
 * - `expect` matches against everything received since the previous successful `expect` (a
 *   cursor), across line boundaries and within the current unfinished line (a login prompt has no
 *   newline), so kernel messages interleaved with a prompt do not hide it.
 * - While waiting, every complete line is checked against the failure patterns: a `fatal` one
 *   (e.g. `Kernel panic - not syncing`) rejects at once with a `FailError` quoting the line; a
 *   `record` one (`Oops`, `BUG:`, `WARNING:`) is kept in `findings` and does not stop the wait.
 * - A timeout rejects with a `TimeoutError` of `opts.errorClass` (default `fail`) whose context
 *   carries the last 50 lines seen.
 * - `close` stops reading and releases the device; the log is kept. Closing twice is harmless.
 */
export interface FailurePattern {
  pattern: RegExp;
  /** fatal: fails the wait at once; record: noted in the report. */
  severity: 'fatal' | 'record';
  name: string;
}

export interface ConsoleLine {
  /** ms since the console was opened */
  t: number;
  /** wall clock, ISO 8601 */
  at: string;
  text: string;
}

export interface Finding {
  pattern: string;
  severity: 'fatal' | 'record';
  line: ConsoleLine;
}

export interface ExpectOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Extra patterns for this wait only, on top of the console's own. */
  failOn?: FailurePattern[];
  errorClass?: ErrorClass;
  /** Names what is awaited in the timeout message, e.g. "the login prompt". */
  what?: string;
}

export interface ExpectMatch {
  match: RegExpExecArray;
  /** ms since the console was opened, when the match completed */
  t: number;
  /** The line (or partial line) the match ended on. */
  line: string;
}

export interface Console {
  readonly name: string;
  open(signal?: AbortSignal): Promise<void>;
  write(data: string | Buffer): Promise<void>;
  expect(pattern: RegExp | string, opts: ExpectOptions): Promise<ExpectMatch>;
  /** Moves the cursor to the end of what was received: the next expect sees only new output. */
  skipPending(): void;
  lastLines(n?: number): string[];
  readonly lines: readonly ConsoleLine[];
  readonly findings: readonly Finding[];
  /** Bytes received since open; 0 after a boot means the board (or the UART) is silent. */
  readonly bytesReceived: number;
  /** ms since open */
  now(): number;
  close(): Promise<void>;
  /** Lines that started in [fromMs, toMs) (ms since open): a per-test console attachment. */
  linesBetween?(fromMs: number, toMs?: number): ConsoleLine[];
  /** Writes the log (`serial.log`): one line per console line, with its time. */
  saveLog?(file: string): Promise<void>;
  /**
   * Every chunk of bytes as received, escapes included, for a person at the console (`hw-test
   * console`); returns the unsubscribe. Across reopens (a power cycle) the subscription stays.
   * With `replay`, what was received before comes first, at once (the boot's start, printed
   * while the person's terminal was being set up), with nothing lost or doubled in between.
   */
  tap?(listener: (chunk: Buffer) => void, opts?: { replay?: boolean }): () => void;
}
