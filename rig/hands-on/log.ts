import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { TextCleaner } from '../console/text-cleaner.js';
import { mask } from '../log.js';
import { newRunId } from '../report/summary.js';

export type HandsOnCommand = 'console' | 'power' | 'ssh';

/** Where a hands-on command writes what it saw: `<reports>/<board>/hands-on/<time>-<command>.log`. */
export function handsOnLogPath(reportsDir: string, board: string, command: HandsOnCommand): string {
  return path.join(reportsDir, board, 'hands-on', `${newRunId()}-${command}.log`);
}

/**
 * What a person did with a board and what the board said, line by line with the time: the
 * actions (power, login, leaving) and the console or SSH output with its escapes removed.
 * Appended as it happens (a killed session leaves its log up to the kill); secrets masked.
 */
export class HandsOnLog {
  readonly #cleaner = new TextCleaner();
  #partial = '';

  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
  }

  /** An action or a fact, e.g. `power cycle (from pid 1234)`. */
  event(text: string): void {
    this.flushPartial();
    this.write(`hw-test: ${text}`);
  }

  /** Bytes the board sent: complete lines are logged, an unfinished one waits for its end. */
  output(chunk: Buffer, source = 'console'): void {
    const lines = (this.#partial + this.#cleaner.push(chunk)).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.write(`${source}: ${line}`);
  }

  /** The unfinished line (a prompt), when the session ends or an event comes between. */
  flushPartial(source = 'console'): void {
    const rest = this.#partial + this.#cleaner.flush();
    this.#partial = '';
    if (rest) this.write(`${source}: ${rest}`);
  }

  private write(line: string): void {
    appendFileSync(this.file, `${new Date().toISOString()} ${mask(line)}\n`);
  }
}
