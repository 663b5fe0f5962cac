import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { xxh3 } from '@node-rs/xxhash';
import { InputError } from '../errors.js';
import { throwIfAborted, whenAborted } from '../util/abort.js';
import type { ImageMap, Range } from './bmap.js';
import { BufferPool } from './pool.js';
import type { ProgressMeter } from './progress.js';
import type { ImageSource } from './source.js';
import type { Target } from './target.js';

/** One write: where, how long, and the xxh3 of what was written (for the read-back). */
export interface Piece {
  start: number;
  length: number;
  hash: bigint;
}

export interface WriteOptions {
  chunkSize: number;
  /** Writes in flight. */
  buffers: number;
  /** Source reads in flight ahead of the writes (random-access sources). */
  readAhead: number;
  hash: boolean;
  meter: ProgressMeter;
  /** The bmap ranges' sha256 were checked before the write (raw images): not hashed again. */
  rangesChecked?: boolean;
  signal?: AbortSignal;
}

function checkRange(src: string, r: Range, sha: Hash | undefined): void {
  if (!sha || !r.sha256) return;
  const actual = sha.digest('hex');
  if (actual !== r.sha256) {
    throw new InputError(
      `${src}: the image does not match its bmap: bytes ${r.start}-${r.end - 1} have another sha256`,
      {
        file: src,
        offset: r.start,
        expected: r.sha256,
        actual,
      },
    );
  }
}

/**
 * Starts a background flush every FLUSH_EVERY bytes written, one at a time, so that the device's
 * (or the loop device's backing file's) writeback overlaps the rest of the write instead of all
 * landing on the final fsync.
 */
export const FLUSH_EVERY = 64 << 20;

class Flusher {
  #since = 0;
  #running: Promise<void> | undefined;
  #error: Error | undefined;

  constructor(private readonly target: Target) {}

  written(n: number): void {
    this.#since += n;
    if (this.#since < FLUSH_EVERY || this.#running) return;
    this.#since = 0;
    this.#running = this.target.sync().then(
      () => (this.#running = undefined),
      (err: unknown) => {
        this.#error = err instanceof Error ? err : new Error(String(err));
        this.#running = undefined;
      },
    );
  }

  async done(): Promise<void> {
    await this.#running;
    if (this.#error) throw this.#error;
  }
}

let zeros = Buffer.alloc(0);
function isZero(b: Buffer, len: number): boolean {
  if (zeros.length < len) zeros = Buffer.alloc(len);
  return b.subarray(0, len).equals(zeros.subarray(0, len));
}

interface Chunk {
  start: number;
  length: number;
  range: number;
}

function chunksOf(map: ImageMap, size: number): Chunk[] {
  const out: Chunk[] = [];
  map.ranges.forEach((r, range) => {
    for (let start = r.start; start < r.end; start += size)
      out.push({ start, length: Math.min(size, r.end - start), range });
  });
  return out;
}

/**
 * Random access: read the mapped ranges of an uncompressed image straight into aligned buffers,
 * `readAhead` reads in flight (the disk gets a queue, not one request at a time), then hash in
 * order and hand each buffer to a write.
 */
async function writeRaw(src: ImageSource, map: ImageMap, target: Target, o: WriteOptions): Promise<Piece[]> {
  const pool = new BufferPool(await target.buffers(o.buffers + o.readAhead, o.chunkSize));
  const fh = await open(src.path, 'r');
  const flusher = new Flusher(target);
  const pieces: Piece[] = [];
  const chunks = chunksOf(map, o.chunkSize);
  const reads: { c: Chunk; buf: Buffer; read: Promise<number> }[] = [];
  let issued = 0;
  let sha: Hash | undefined;
  try {
    for (let i = 0; i < chunks.length; i++) {
      while (issued < chunks.length && issued <= i + o.readAhead) {
        const c = chunks[issued++];
        const buf = await pool.acquire();
        const read = fh.read(buf, 0, c.length, c.start).then((r) => r.bytesRead);
        read.catch(() => {});
        reads.push({ c, buf, read });
      }
      throwIfAborted(o.signal);
      const { c, buf, read } = reads.shift()!;
      const got = await read;
      if (got < c.length) {
        throw new InputError(`${src.path}: the image is truncated at offset ${c.start + got}`, {
          file: src.path,
        });
      }
      const r = map.ranges[c.range];
      const data = buf.subarray(0, c.length);
      if (c.start === r.start && r.sha256 && !o.rangesChecked) sha = createHash('sha256');
      sha?.update(data);
      if (o.hash) pieces.push({ start: c.start, length: c.length, hash: xxh3.xxh64(data) });
      pool.submit(buf, async () => {
        await target.write(buf, c.length, c.start);
        o.meter.add(c.length);
        flusher.written(c.length);
      });
      if (c.start + c.length === r.end) {
        checkRange(src.path, r, sha);
        sha = undefined;
      }
    }
    await pool.drain();
    await flusher.done();
  } finally {
    await Promise.allSettled(reads.map((r) => r.read));
    await quietly(pool, flusher);
    await fh.close();
  }
  return pieces;
}

/** After a failure: let the writes in flight end, their errors are the failure's own. */
async function quietly(pool: BufferPool, flusher: Flusher): Promise<void> {
  await pool.drain().catch(() => {});
  await flusher.done().catch(() => {});
}

/** A stream that ended early (or ran long) is a truncated or wrong image: bad input. */
function expectSize(file: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new InputError(
      `${file}: the image is ${actual} bytes, but ${expected} were expected (truncated?)`,
      {
        file,
        expected,
        actual,
      },
    );
  }
}

/**
 * A decompressed stream: copy the mapped parts into aligned buffers, skip the rest. Pieces start at
 * a range start or a chunk boundary inside it, so each is aligned for direct I/O.
 */
async function writeStream(
  src: ImageSource,
  map: ImageMap,
  target: Target,
  o: WriteOptions,
): Promise<Piece[]> {
  const pool = new BufferPool(await target.buffers(o.buffers, o.chunkSize));
  const flusher = new Flusher(target);
  const pieces: Piece[] = [];
  const s = await src.open(o.signal);
  const unhook = whenAborted(o.signal, () => s.close());
  const ranges = map.ranges;
  let ri = 0;
  let pos = 0;
  let buf: Buffer | undefined;
  let bufStart = 0;
  let fill = 0;
  let sha: Hash | undefined;
  const flush = () => {
    const b = buf!;
    const start = bufStart;
    const len = fill;
    if (o.hash) pieces.push({ start, length: len, hash: xxh3.xxh64(b.subarray(0, len)) });
    buf = undefined;
    // A fresh file reads zeros already: keep it sparse (the run's working copy of a 4 GiB image).
    if (target.zeroed && isZero(b, len)) return pool.release(b);
    pool.submit(b, async () => {
      await target.write(b, len, start);
      flusher.written(len);
    });
  };
  try {
    for await (const chunk of s.chunks) {
      let c = chunk;
      let cpos = pos;
      pos += c.length;
      while (c.length > 0 && ri < ranges.length) {
        const r = ranges[ri];
        if (cpos < r.start) {
          const skip = Math.min(r.start - cpos, c.length);
          c = c.subarray(skip);
          cpos += skip;
          continue;
        }
        if (!buf) {
          buf = await pool.acquire();
          bufStart = cpos;
          fill = 0;
          if (cpos === r.start && r.sha256) sha = createHash('sha256');
        }
        const take = Math.min(c.length, r.end - cpos, o.chunkSize - fill);
        c.copy(buf, fill, 0, take);
        sha?.update(c.subarray(0, take));
        fill += take;
        cpos += take;
        c = c.subarray(take);
        if (cpos === r.end || fill === o.chunkSize) flush();
        if (cpos === r.end) {
          checkRange(src.path, r, sha);
          sha = undefined;
          ri++;
        }
      }
      o.meter.set(Math.min(pos, map.size));
    }
    await s.done;
    throwIfAborted(o.signal);
    expectSize(src.path, pos, map.size);
    await pool.drain();
    await flusher.done();
  } catch (err) {
    // Killing the decompressor on abort makes it "fail": report the interruption, not a bad image.
    throwIfAborted(o.signal);
    throw err;
  } finally {
    unhook();
    s.close();
    if (buf) pool.release(buf);
    await quietly(pool, flusher);
  }
  return pieces;
}

export function writeImage(
  src: ImageSource,
  map: ImageMap,
  target: Target,
  o: WriteOptions,
): Promise<Piece[]> {
  return src.format === 'raw' ? writeRaw(src, map, target, o) : writeStream(src, map, target, o);
}

/** The image's bytes at [start, start+length): re-read, or re-decompressed up to there (error path only). */
export async function sourceBytes(src: ImageSource, start: number, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  if (src.format === 'raw') {
    const fh = await open(src.path, 'r');
    try {
      await fh.read(out, 0, length, start);
    } finally {
      await fh.close();
    }
    return out;
  }
  const s = await src.open();
  let pos = 0;
  try {
    for await (const c of s.chunks) {
      const a = Math.max(start, pos);
      const b = Math.min(start + length, pos + c.length);
      if (b > a) c.copy(out, a - start, a - pos, b - pos);
      pos += c.length;
      if (pos >= start + length) break;
    }
  } finally {
    s.close();
  }
  return out;
}
