import type { Console } from '../console/console.js';
import { errorMessage } from '../errors.js';
import { ESCAPE_HELP, EscapeReader, type EscapeCommand } from './escape.js';
import type { HandsOnLog } from './log.js';

export interface BridgeOptions {
  console: Console;
  /** What the person types (a TTY in raw mode: Ctrl-C arrives here as a byte, for the board). */
  input: NodeJS.ReadableStream;
  /** Where the board's bytes go, as they come (escapes included: the terminal draws them). */
  output: { write(chunk: Buffer): unknown };
  log: HandsOnLog;
  signal: AbortSignal;
  /** A line for the person, between the board's output (the CLI ends it for a raw terminal). */
  note(line: string): void;
  /** `Ctrl-] c`: power-cycle the board. */
  cycle(): Promise<void>;
}

/**
 * The person at the board's console until they leave (`Ctrl-] q`) or the process is told to stop
 * (SIGTERM, SIGHUP, or SIGINT when the input is no terminal): what they type goes to the board,
 * what the board sends goes to them and to the log.
 */
export function bridgeConsole(o: BridgeOptions): Promise<'quit' | 'aborted'> {
  if (!o.console.tap) throw new Error(`${o.console.name} cannot be watched by a person (no tap)`);
  return new Promise((resolve) => {
    const reader = new EscapeReader();
    let writeFailed = false;
    // Replayed: what the board said while the session started and the terminal was set up.
    const untap = o.console.tap!(
      (chunk) => {
        o.output.write(chunk);
        o.log.output(chunk);
      },
      { replay: true },
    );
    const finish = (how: 'quit' | 'aborted') => {
      untap();
      o.input.off('data', onData);
      o.input.pause();
      o.signal.removeEventListener('abort', onAbort);
      o.log.flushPartial();
      resolve(how);
    };
    const send = (bytes: Buffer) =>
      o.console.write(bytes).then(
        () => (writeFailed = false),
        (err: unknown) => {
          // Once per outage: the board is off, or its UART went away.
          if (!writeFailed) o.note(`not sent: ${errorMessage(err)}`);
          writeFailed = true;
        },
      );
    const command = (c: EscapeCommand) => {
      if (c === 'quit') return finish('quit');
      if (c === 'help') return o.note(ESCAPE_HELP);
      o.cycle().catch((err: unknown) => o.note(`power cycle failed: ${errorMessage(err)}`));
    };
    const onData = (chunk: Buffer | string) => {
      for (const item of reader.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))) {
        if (Buffer.isBuffer(item)) void send(item);
        else command(item);
      }
    };
    const onAbort = () => finish('aborted');
    if (o.signal.aborted) return finish('aborted');
    o.signal.addEventListener('abort', onAbort, { once: true });
    o.input.on('data', onData);
    o.input.resume();
  });
}
