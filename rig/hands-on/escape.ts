/**
 * The console's escape sequence, as telnet and virsh have it: Ctrl-] then a key. Everything else,
 * Ctrl-C included, goes to the board.
 */
export const ESCAPE = 0x1d;
export const ESCAPE_NAME = 'Ctrl-]';

export type EscapeCommand = 'quit' | 'cycle' | 'help';

const KEYS: Record<string, EscapeCommand> = { q: 'quit', '.': 'quit', c: 'cycle', '?': 'help', h: 'help' };

/** The keys, for the note printed on start and for `Ctrl-] ?`. */
export const ESCAPE_HELP = `${ESCAPE_NAME} q leaves (${ESCAPE_NAME} . too), ${ESCAPE_NAME} c power-cycles the board, ${ESCAPE_NAME} ${ESCAPE_NAME} sends ${ESCAPE_NAME}, ${ESCAPE_NAME} ? lists these`;

/**
 * Splits what a person types into bytes for the board and escape commands, in order. Stateful:
 * Ctrl-] at the end of one chunk and its key at the start of the next are one sequence. An
 * unknown key after Ctrl-] is sent on with the Ctrl-], as typed.
 */
export class EscapeReader {
  #armed = false;

  push(chunk: Buffer): (Buffer | EscapeCommand)[] {
    const out: (Buffer | EscapeCommand)[] = [];
    let start = 0;
    const send = (end: number) => {
      if (end > start) out.push(chunk.subarray(start, end));
    };
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.#armed) {
        this.#armed = false;
        const command = KEYS[String.fromCharCode(byte)];
        if (command) out.push(command);
        else out.push(byte === ESCAPE ? Buffer.from([ESCAPE]) : Buffer.from([ESCAPE, byte]));
        start = i + 1;
      } else if (byte === ESCAPE) {
        send(i);
        this.#armed = true;
        start = i + 1;
      }
    }
    send(chunk.length);
    return out;
  }
}
