import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { xxh3 } from '@node-rs/xxhash';
import { InputError } from '../errors.js';
import { throwIfAborted } from '../util/abort.js';
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
  buffers: number;
  hash: boolean;
  meter: ProgressMeter;
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

/** Random access: read each mapped range of an uncompressed image straight into aligned buffers. */
async function writeRaw(src: ImageSource, map: ImageMap, target: Target, o: WriteOptions): Promise<Piece[]> {
  const pool = new BufferPool(await target.buffers(o.buffers, o.chunkSize));
  const fh = await open(src.path, 'r');
  const pieces: Piece[] = [];
  try {
    for (const r of map.ranges) {
      const sha = r.sha256 ? createHash('sha256') : undefined;
      for (let off = r.start; off < r.end; off += o.chunkSize) {
        throwIfAborted(o.signal);
        const len = Math.min(o.chunkSize, r.end - off);
        const buf = await pool.acquire();
        const { bytesRead } = await fh.read(buf, 0, len, off);
        if (bytesRead < len) {
          throw new InputError(`${src.path}: the image is truncated at offset ${off + bytesRead}`, {
            file: src.path,
          });
        }
        const data = buf.subarray(0, len);
        sha?.update(data);
        if (o.hash) pieces.push({ start: off, length: len, hash: xxh3.xxh64(data) });
        pool.submit(buf, async () => {
          await target.write(buf, len, off);
          o.meter.add(len);
        });
      }
      checkRange(src.path, r, sha);
    }
    await pool.drain();
  } finally {
    await pool.drain().catch(() => {});
    await fh.close();
  }
  return pieces;
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
  const pieces: Piece[] = [];
  const s = await src.open(o.signal);
  const onAbort = () => s.close();
  o.signal?.addEventListener('abort', onAbort, { once: true });
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
    pool.submit(b, () => target.write(b, len, start));
    buf = undefined;
  };
  try {
    for await (const chunk of s.stream) {
      let c = chunk as Buffer;
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
    if (pos !== map.size) {
      throw new InputError(
        `${src.path}: the image is ${pos} bytes, but ${map.size} were expected (truncated?)`,
        {
          file: src.path,
          expected: map.size,
          actual: pos,
        },
      );
    }
    await pool.drain();
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    s.close();
    if (buf) pool.release(buf);
    await pool.drain().catch(() => {});
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
    for await (const chunk of s.stream) {
      const c = chunk as Buffer;
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
