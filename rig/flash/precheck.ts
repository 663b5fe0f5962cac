import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { throwIfAborted } from '../util/abort.js';
import type { ImageMap } from './bmap.js';

const PIECE = 4 << 20;

/**
 * Checks every bmap range of a raw image against its sha256 before the target is opened: a raw
 * image is random access, so unlike a compressed stream it can be judged whole before a byte is
 * written. Two reads in flight keep the disk busy while the previous piece is hashed; the ranges
 * are then in the page cache for the write (docs/benchmarks.md has the cost). Returns whether any
 * range carried a checksum.
 */
export async function checkRanges(path: string, map: ImageMap, signal?: AbortSignal): Promise<boolean> {
  const ranges = map.ranges.filter((r) => r.sha256);
  if (ranges.length === 0) return false;
  const fh = await open(path, 'r');
  const bufs = [Buffer.allocUnsafe(PIECE), Buffer.allocUnsafe(PIECE)];
  let next: Promise<number> | undefined;
  try {
    for (const r of ranges) {
      const sha = createHash('sha256');
      const read = (at: number, i: number) => {
        const p = fh.read(bufs[i], 0, Math.min(PIECE, r.end - at), at).then((x) => x.bytesRead);
        p.catch(() => {});
        return p;
      };
      next = read(r.start, 0);
      for (let at = r.start, i = 0; at < r.end; at += PIECE, i ^= 1) {
        throwIfAborted(signal);
        const got = (await next) ?? 0;
        const want = Math.min(PIECE, r.end - at);
        next = at + PIECE < r.end ? read(at + PIECE, i ^ 1) : undefined;
        if (got < want) {
          throw new InputError(`${path}: the image is truncated at offset ${at + got}`, { file: path });
        }
        sha.update(bufs[i].subarray(0, got));
      }
      const actual = sha.digest('hex');
      if (actual !== r.sha256) {
        throw new InputError(
          `${path}: the image does not match its bmap: bytes ${r.start}-${r.end - 1} have another sha256`,
          { file: path, offset: r.start, expected: r.sha256, actual },
        );
      }
    }
    return true;
  } finally {
    await next?.catch(() => {});
    await fh.close();
  }
}
