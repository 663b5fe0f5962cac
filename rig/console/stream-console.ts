import { writeFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { FailError, InfraError, TimeoutError, type HwTestError } from '../errors.js';
import { logger, mask } from '../log.js';
import { abortPromise } from '../util/abort.js';
import type { Console, ConsoleLine, ExpectMatch, ExpectOptions, FailurePattern, Finding } from './console.js';
import { TextCleaner, withoutKernelLines } from './text-cleaner.js';

const log = logger('console');

/** Lines quoted in a timeout's context. */
const SEEN_LINES = 50;
/**
 * A match that ends where the received text ends, inside an unfinished line, might grow with the
 * next byte (`Linux version \S+` on `Linux version 6.1.0-`). It is taken once the next bytes came
 * (the match is then run again), or after this long without any: the quiet after a prompt.
 */
const QUIET_MS = 100;
/** Lines at the end in which kernel messages are looked for inside a prompt. */
const FILTER_LINES = 8;
/** Text before the cursor kept for `ExpectMatch.line`; older text is dropped to bound memory. */
const KEEP_BEHIND = 4096;

interface LineSpan {
  /** absolute offsets in the cleaned text: [start, end) without the newline */
  start: number;
  end: number;
}

interface Waiter {
  regex: RegExp;
  failOn: FailurePattern[];
  /** this wait's own patterns, on top of the console's */
  extra: FailurePattern[];
  quiet?: NodeJS.Timeout;
  /** index of the first line not yet checked against the fatal patterns */
  checkedLines?: number;
  resolve(m: ExpectMatch): void;
  reject(err: unknown): void;
}

export interface ConsoleOptions {
  name: string;
  /** Checked on every complete line: the board type's patterns (`failurePatterns(board)`). */
  failurePatterns?: FailurePattern[];
  /**
   * The quiet after which a match at the end of the received text is taken (default 100 ms:
   * a USB UART delivers in bursts, an FTDI's latency timer alone is 16 ms).
   */
  quietMs?: number;
}

/**
 * The console's log and matcher, whatever the bytes come from: `feed` receives raw chunks.
 * Keeps a timestamped line log, the raw bytes, the findings, and the `expect` cursor
 * (see the contract in console.ts).
 */
export abstract class ConsoleCore implements Console {
  readonly name: string;
  readonly lines: ConsoleLine[] = [];
  readonly findings: Finding[] = [];
  readonly #patterns: FailurePattern[];
  #spans: LineSpan[] = [];
  #raw: Buffer[] = [];
  #bytes = 0;
  #cleaner = new TextCleaner();
  /** cleaned text from absolute offset #base on */
  #text = '';
  #base = 0;
  #cursor = 0;
  /** start time of the unfinished line, if any */
  #partialT: number | undefined;
  #waiters = new Set<Waiter>();
  #dead: HwTestError | undefined;
  readonly #origin = Date.now();
  readonly #quietMs: number;

  constructor(opts: ConsoleOptions) {
    this.name = opts.name;
    this.#patterns = opts.failurePatterns ?? [];
    this.#quietMs = opts.quietMs ?? QUIET_MS;
  }

  abstract open(signal?: AbortSignal): Promise<void>;
  abstract write(data: string | Buffer): Promise<void>;
  abstract close(): Promise<void>;

  get bytesReceived(): number {
    return this.#bytes;
  }

  now(): number {
    return Date.now() - this.#origin;
  }

  /** Raw bytes as received, escapes and `\r` included. */
  get raw(): Buffer {
    return Buffer.concat(this.#raw);
  }

  /** The unfinished current line (e.g. a prompt). */
  get partialLine(): string {
    const end = this.#base + this.#text.length;
    const start = this.#spans.at(-1)?.end !== undefined ? this.#spans.at(-1)!.end + 1 : 0;
    return this.#slice(Math.max(start, this.#base), end);
  }

  /** Takes raw bytes from the device. */
  protected feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#raw.push(Buffer.from(chunk));
    this.#bytes += chunk.length;
    this.#append(this.#cleaner.push(chunk));
    for (const listener of this.#taps) {
      try {
        listener(chunk);
      } catch (err) {
        log('%s: a console tap failed: %s', this.name, (err as Error).message);
      }
    }
  }

  readonly #taps = new Set<(chunk: Buffer) => void>();

  tap(listener: (chunk: Buffer) => void, opts: { replay?: boolean } = {}): () => void {
    if (opts.replay && this.#bytes > 0) listener(this.raw);
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  /** Every pending and future wait rejects with `err` (the device is gone for good). */
  protected kill(err: HwTestError): void {
    this.#dead = err;
    for (const w of [...this.#waiters]) w.reject(err);
    this.#waiters.clear();
  }

  /** The device works again: later waits no longer reject at once. */
  protected revive(): void {
    this.#dead = undefined;
  }

  #append(text: string): void {
    if (!text) return;
    const t = this.now();
    const offset = this.#base + this.#text.length;
    this.#partialT ??= t;
    this.#text += text;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', nl + 1)) {
      const start = this.#spans.length ? this.#spans.at(-1)!.end + 1 : 0;
      this.#completeLine({ start, end: offset + nl }, this.#partialT ?? t);
      this.#partialT = nl + 1 < text.length ? t : undefined;
    }
    this.#settle();
    this.#trim();
  }

  #completeLine(span: LineSpan, t: number): void {
    const text = this.#slice(span.start, span.end);
    const line: ConsoleLine = { t, at: new Date(this.#origin + t).toISOString(), text };
    this.#spans.push(span);
    this.lines.push(line);
    const waits = [...this.#waiters].flatMap((w) => w.extra);
    for (const p of [...this.#patterns, ...new Set(waits)]) {
      if (p.pattern.test(text)) {
        this.findings.push({ pattern: p.name, severity: p.severity, line });
        log('%s: %s pattern %s: %s', this.name, p.severity, p.name, text);
      }
    }
  }

  #slice(from: number, to: number): string {
    return this.#text.slice(Math.max(from - this.#base, 0), Math.max(to - this.#base, 0));
  }

  expect(pattern: RegExp | string, opts: ExpectOptions): Promise<ExpectMatch> {
    if (this.#dead) return Promise.reject(this.#dead);
    const regex = toRegex(pattern);
    const failOn = [...this.#patterns, ...(opts.failOn ?? [])];
    const abort = abortPromise(opts.signal);
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    const wait = new Promise<ExpectMatch>((resolve, reject) => {
      waiter = { regex, failOn, extra: opts.failOn ?? [], resolve, reject };
      this.#waiters.add(waiter);
      timer = setTimeout(() => reject(this.#timeout(regex, opts)), opts.timeoutMs);
      abort.promise.catch((err: unknown) => reject(err as Error));
      this.#check(waiter);
    });
    return wait.finally(() => {
      clearTimeout(timer);
      abort.dispose();
      if (waiter) this.#waiters.delete(waiter);
      clearTimeout(waiter?.quiet);
    });
  }

  skipPending(): void {
    this.#cursor = this.#base + this.#text.length;
    this.#trim();
  }

  lastLines(n = SEEN_LINES): string[] {
    const partial = this.partialLine;
    const lines = this.lines.slice(-n).map((l) => l.text);
    if (partial) lines.push(partial);
    return lines.slice(-n);
  }

  /** Lines that started in [fromMs, toMs) (ms since open): a per-test console attachment. */
  linesBetween(fromMs: number, toMs = Infinity): ConsoleLine[] {
    return this.lines.filter((l) => l.t >= fromMs && l.t < toMs);
  }

  /** The log as text, one console line per line: ISO time, ms since open, the line. */
  formatLog(lines: readonly ConsoleLine[] = this.lines): string {
    const out = lines.map((l) => `${l.at} ${(l.t / 1000).toFixed(3).padStart(9)} ${l.text}\n`);
    return out.join('');
  }

  /** Writes `serial.log` (the cleaned, timestamped lines, with the unfinished line last). */
  async saveLog(file: string): Promise<void> {
    const partial = this.partialLine;
    const tail: ConsoleLine[] = partial
      ? [
          {
            t: this.#partialT ?? this.now(),
            at: new Date(this.#origin + (this.#partialT ?? this.now())).toISOString(),
            text: partial,
          },
        ]
      : [];
    // A board that echoes a secret (a PSK in a config dump, a token on the kernel command line).
    await writeFile(file, mask(this.formatLog([...this.lines, ...tail])));
  }

  /** Writes the raw bytes, escapes included (`serial.raw`). */
  async saveRawLog(file: string): Promise<void> {
    await writeFile(file, this.raw);
  }

  #settle(): void {
    for (const w of [...this.#waiters]) this.#check(w);
  }

  /** Resolves or rejects one waiter on what is pending after the cursor. */
  #check(w: Waiter, acceptTail = false): void {
    const end = this.#findMatch(w.regex);
    const fatal = this.#fatalLine(w, end?.end ?? Infinity);
    if (fatal) {
      this.#waiters.delete(w);
      w.reject(
        new FailError(`${this.name}: ${fatal.pattern.name}: "${fatal.line.text}"`, {
          pattern: fatal.pattern.name,
          actual: fatal.line.text,
          seen: this.lastLines(),
        }),
      );
      return;
    }
    if (!end) return;
    clearTimeout(w.quiet);
    const total = this.#base + this.#text.length;
    if (end.end === total && !acceptTail && !this.#text.endsWith('\n')) {
      w.quiet = setTimeout(() => this.#waiters.has(w) && this.#check(w, true), this.#quietMs);
      return;
    }
    this.#waiters.delete(w);
    this.#cursor = end.end;
    w.resolve({ match: end.match, t: this.now(), line: this.#lineAround(end.end) });
  }

  #findMatch(regex: RegExp): { match: RegExpExecArray; end: number } | undefined {
    const total = this.#base + this.#text.length;
    const pending = this.#slice(this.#cursor, total);
    const direct = regex.exec(pending);
    if (direct) return { match: direct, end: this.#cursor + direct.index + direct[0].length };
    // Kernel lines inside a prompt only matter near the end: filter a short tail, not the whole boot.
    const from = Math.max(this.#cursor, this.#spans.at(-FILTER_LINES)?.start ?? 0);
    const view = withoutKernelLines(this.#slice(from, total));
    const m = view && regex.exec(view.text);
    if (!m || !view) return undefined;
    return { match: m, end: from + view.toOriginal(m.index + m[0].length) };
  }

  /** The first complete line after the cursor, ending before `before`, that a fatal pattern matches. */
  #fatalLine(w: Waiter, before: number): { pattern: FailurePattern; line: ConsoleLine } | undefined {
    const fatal = w.failOn.filter((p) => p.severity === 'fatal');
    if (fatal.length === 0) return undefined;
    // Lines are immutable once complete: each is checked once per wait.
    let i = Math.max(w.checkedLines ?? this.#firstSpanAfterCursor(), this.#firstSpanAfterCursor());
    for (; i < this.#spans.length; i++) {
      const span = this.#spans[i];
      if (span.start >= before) break;
      const line = this.lines[i];
      const p = fatal.find((f) => f.pattern.test(line.text));
      if (p) return { pattern: p, line };
    }
    w.checkedLines = i;
    return undefined;
  }

  /** Index of the first line that ends at or after the cursor (binary search: lines are in order). */
  #firstSpanAfterCursor(): number {
    let lo = 0;
    let hi = this.#spans.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#spans[mid].end >= this.#cursor) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The line a match ended on: a match that ends with a newline ended the line before it. */
  #lineAround(offset: number): string {
    const text = this.#text;
    let at = offset - this.#base;
    if (at > 0 && text[at - 1] === '\n') at--;
    const start = text.lastIndexOf('\n', at - 1) + 1;
    const nl = text.indexOf('\n', at);
    return text.slice(start, nl < 0 ? text.length : nl);
  }

  #timeout(regex: RegExp, opts: ExpectOptions): TimeoutError {
    const what = opts.what ?? String(regex);
    const silent = this.#bytes === 0 ? ' (the console received nothing at all)' : '';
    return new TimeoutError(
      opts.errorClass ?? 'fail',
      `${this.name}: no ${what} within ${opts.timeoutMs / 1000}s${silent}`,
      {
        device: this.name,
        expected: String(regex),
        timeoutMs: opts.timeoutMs,
        bytesReceived: this.#bytes,
        seen: this.lastLines(SEEN_LINES),
      },
    );
  }

  /** Drops text far behind the cursor; the line log keeps everything. */
  #trim(): void {
    const drop = this.#cursor - this.#base - KEEP_BEHIND;
    if (drop > KEEP_BEHIND) {
      this.#text = this.#text.slice(drop);
      this.#base += drop;
    }
  }
}

function toRegex(pattern: RegExp | string): RegExp {
  if (typeof pattern === 'string') return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  // A global or sticky regex keeps lastIndex between calls: matching must not depend on history.
  return pattern.global || pattern.sticky
    ? new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''))
    : pattern;
}

/**
 * A console over any byte stream: a recorded boot in tests, a child's stdout, a socket.
 * `open` starts reading; the stream's end is the device going away for good.
 */
export class StreamConsole extends ConsoleCore {
  #input: Readable;
  #output: Writable | undefined;
  #onData = (b: Buffer | string) => this.feed(typeof b === 'string' ? Buffer.from(b) : b);
  #onEnd = () => this.kill(new InfraError(`${this.name}: the console stream ended`, { device: this.name }));

  constructor(opts: ConsoleOptions & { input: Readable; output?: Writable }) {
    super(opts);
    this.#input = opts.input;
    this.#output = opts.output;
  }

  open(): Promise<void> {
    this.#input.off('data', this.#onData);
    this.#input.off('end', this.#onEnd);
    this.#input.on('data', this.#onData);
    this.#input.once('end', this.#onEnd);
    return Promise.resolve();
  }

  write(data: string | Buffer): Promise<void> {
    const out = this.#output;
    if (!out)
      return Promise.reject(new InfraError(`${this.name}: this console is read-only`, { device: this.name }));
    return new Promise((resolve, reject) => out.write(data, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    this.#input.off('data', this.#onData);
    this.#input.off('end', this.#onEnd);
    return Promise.resolve();
  }
}
