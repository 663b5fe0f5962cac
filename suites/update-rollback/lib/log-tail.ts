import type { Console, ConsoleLine } from '../../../rig/console/console.js';
import { TimeoutError, type ErrorClass } from '../../../rig/errors.js';
import { abortPromise } from '../../../rig/util/abort.js';

/**
 * Follows the console's log without moving its `expect` cursor: the boot session owns that cursor
 * and must still see the bootloader and login markers of the boots this suite watches go by. The
 * Console interface has no line event, so new lines are picked up every `pollMs` (a read of an
 * in-memory array, not a wait for the board).
 */
export class LogTail {
  #next: number;
  readonly startIndex: number;

  constructor(
    private readonly console: Pick<Console, 'lines' | 'lastLines'>,
    private readonly pollMs = 100,
  ) {
    this.#next = console.lines.length;
    this.startIndex = this.#next;
  }

  /** Index in the console's lines of the next line to read (the last one read is this - 1). */
  get position(): number {
    return this.#next;
  }

  /** The lines received since the tail was created. */
  get seen(): readonly ConsoleLine[] {
    return this.console.lines.slice(this.startIndex);
  }

  /** Lines received since the previous `take` (or since creation). */
  take(): ConsoleLine[] {
    const lines = this.console.lines;
    // A console that restarted its log (reopened) starts over.
    if (lines.length < this.#next) this.#next = 0;
    const out = lines.slice(this.#next);
    this.#next = lines.length;
    return out;
  }

  /**
   * Waits for the first new line for which `accept` returns a value (not undefined), and returns
   * that value; the lines before it are consumed from this tail only.
   */
  async until<T>(
    accept: (line: ConsoleLine) => T | undefined,
    opts: { timeoutMs: number; signal?: AbortSignal; what: string; errorClass?: ErrorClass },
  ): Promise<T> {
    const deadline = Date.now() + opts.timeoutMs;
    const abort = abortPromise(opts.signal);
    try {
      for (;;) {
        const lines = this.console.lines;
        if (lines.length < this.#next) this.#next = 0;
        while (this.#next < lines.length) {
          const v = accept(lines[this.#next++]);
          if (v !== undefined) return v;
        }
        if (Date.now() >= deadline) {
          throw new TimeoutError(
            opts.errorClass ?? 'fail',
            `${opts.what} did not come within ${Math.round(opts.timeoutMs / 1000)} s`,
            {
              timeoutMs: opts.timeoutMs,
              seen: this.console.lastLines(50),
            },
          );
        }
        await Promise.race([new Promise((r) => setTimeout(r, this.pollMs)), abort.promise]);
      }
    } finally {
      abort.dispose();
    }
  }
}
