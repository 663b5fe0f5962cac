/* eslint-disable no-control-regex -- a console's escapes and control bytes are what these match */
import { StringDecoder } from 'node:string_decoder';

/** CSI, OSC and two-byte escape sequences: colours, cursor moves, terminal titles. */
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
/** An escape sequence cut off at the end of a chunk: kept for the next chunk. */
const ANSI_TAIL = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?)?$/;
/** Control characters other than tab and newline (\r, backspace, NUL, bell ...). */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

/**
 * Turns raw console bytes into the text that is matched and logged: UTF-8 decoded (a character
 * split across chunks is kept whole), ANSI escapes and `\r` removed. Stateful across chunks, so a
 * byte stream cut at any boundary gives the same text.
 */
export class TextCleaner {
  #decoder = new StringDecoder('utf8');
  #carry = '';

  push(chunk: Buffer): string {
    let text = this.#carry + this.#decoder.write(chunk);
    this.#carry = '';
    const tail = ANSI_TAIL.exec(text);
    if (tail) {
      this.#carry = tail[0];
      text = text.slice(0, tail.index);
    }
    return clean(text);
  }

  /** Whatever is left at the end of the stream (an unterminated escape is dropped). */
  flush(): string {
    const rest = clean(this.#decoder.end());
    this.#carry = '';
    return rest;
  }
}

export function clean(text: string): string {
  return text.replace(ANSI, '').replace(CONTROL, '');
}

/**
 * A kernel log line (`[    3.141592] random: crng init done`), possibly printed in the middle of
 * another line such as a login prompt (labgrid #546, #1763). Removed from a second view of the
 * text, so a prompt split or followed by kernel messages still matches.
 */
const KERNEL_LINE = /\[\s*\d+\.\d+\][^\n]*(?:\n|$)/g;

export interface FilteredView {
  text: string;
  /** Maps an offset in `text` back to an offset in the original text. */
  toOriginal(offset: number): number;
}

export function withoutKernelLines(text: string): FilteredView | undefined {
  const keep: { from: number; to: number; at: number }[] = [];
  let out = '';
  let last = 0;
  for (const m of text.matchAll(KERNEL_LINE)) {
    keep.push({ from: last, to: m.index, at: out.length });
    out += text.slice(last, m.index);
    last = m.index + m[0].length;
  }
  if (keep.length === 0) return undefined;
  keep.push({ from: last, to: text.length, at: out.length });
  out += text.slice(last);
  return {
    text: out,
    toOriginal(offset) {
      for (let i = keep.length - 1; i >= 0; i--) {
        const seg = keep[i];
        if (offset >= seg.at) return Math.min(seg.from + (offset - seg.at), seg.to);
      }
      return offset;
    },
  };
}
