import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { throwIfAborted } from '../util/abort.js';
import type { ImageMap, Range } from './bmap.js';

const PIECE = 4 << 20;
/** Reads in flight: the disk gets a queue while the main thread hashes the piece before. */
const IN_FLIGHT = 4;

interface Piece {
  range: Range;
  at: number;
  length: number;
}

function piecesOf(ranges: Range[]): Piece[] {
  const out: Piece[] = [];
  for (const range of ranges)
    for (let at = range.start; at < range.end; at += PIECE)
      out.push({ range, at, length: Math.min(PIECE, range.end - at) });
  return out;
}

/**
 * Checks every bmap range of a raw image against its sha256 before the target is opened: a raw
 * image is random access, so unlike a compressed stream it can be judged whole before a byte is
 * written. The ranges are then in the page cache for the write, which no longer hashes them
 * (docs/benchmarks.md has the cost). Returns whether any range carried a checksum.
 */
export async function checkRanges(path: string, map: ImageMap, signal?: AbortSignal): Promise<boolean> {
  const pieces = piecesOf(map.ranges.filter((r) => r.sha256));
  if (pieces.length === 0) return false;
  const fh = await open(path, 'r');
  const free: Buffer[] = Array.from({ length: IN_FLIGHT }, () => Buffer.allocUnsafe(PIECE));
  const reads: { p: Piece; buf: Buffer; got: Promise<number> }[] = [];
  let next = 0;
  let sha: Hash | undefined;
  try {
    for (const p of pieces) {
      while (next < pieces.length && free.length > 0) {
        const q = pieces[next++];
        const buf = free.pop()!;
        const got = fh.read(buf, 0, q.length, q.at).then((r) => r.bytesRead);
        got.catch(() => {});
        reads.push({ p: q, buf, got });
      }
      throwIfAborted(signal);
      const { buf, got } = reads.shift()!;
      const n = await got;
      if (n < p.length) {
        throw new InputError(`${path}: the image is truncated at offset ${p.at + n}`, { file: path });
      }
      if (p.at === p.range.start) sha = createHash('sha256');
      sha!.update(buf.subarray(0, n));
      free.push(buf);
      if (p.at + p.length === p.range.end) checkRange(path, p.range, sha!.digest('hex'));
    }
    return true;
  } finally {
    await Promise.allSettled(reads.map((r) => r.got));
    await fh.close();
  }
}

function checkRange(path: string, r: Range, actual: string): void {
  if (actual === r.sha256) return;
  throw new InputError(
    `${path}: the image does not match its bmap: bytes ${r.start}-${r.end - 1} have another sha256`,
    { file: path, offset: r.start, expected: r.sha256, actual },
  );
}
