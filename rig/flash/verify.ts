import { xxh3 } from '@node-rs/xxhash';
import { InfraError } from '../errors.js';
import { throwIfAborted } from '../util/abort.js';
import type { ProgressMeter } from './progress.js';
import type { Target } from './target.js';
import type { Piece } from './write.js';

export interface VerifyOptions {
  chunkSize: number;
  buffers: number;
  meter: ProgressMeter;
  signal?: AbortSignal;
  /** The image's bytes for a bad piece, to name the exact first bad offset. */
  sourceBytes(start: number, length: number): Promise<Buffer>;
}

function firstDifference(a: Buffer, b: Buffer): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Reads back every written piece (only the mapped ranges of a sparse image) with several reads in
 * flight, and compares its xxh3 with the source's. Pieces are handed out in order, so the lowest
 * bad piece found once the workers stop is the first bad one.
 */
export async function verifyPieces(
  target: Target,
  pieces: readonly Piece[],
  o: VerifyOptions,
): Promise<void> {
  const bufs = await target.buffers(o.buffers, o.chunkSize);
  let next = 0;
  const state: { bad?: Piece } = {};
  const mark = (p: Piece) => {
    if (!state.bad || p.start < state.bad.start) state.bad = p;
  };
  const worker = async (buf: Buffer) => {
    while (next < pieces.length && !state.bad) {
      throwIfAborted(o.signal);
      const p = pieces[next++];
      const n = await target.read(buf, p.length, p.start);
      if (n < p.length || xxh3.xxh64(buf.subarray(0, p.length)) !== p.hash) {
        mark(p);
        return;
      }
      o.meter.add(p.length);
    }
  };
  await Promise.all(bufs.map(worker));
  const found = state.bad;
  if (!found) return;
  const back = Buffer.alloc(found.length);
  const [buf] = await target.buffers(1, o.chunkSize);
  await target.read(buf, found.length, found.start);
  buf.copy(back, 0, 0, found.length);
  const want = await o.sourceBytes(found.start, found.length);
  const i = firstDifference(want, back);
  const offset = found.start + Math.max(i, 0);
  throw new InfraError(
    `${target.path}: verify failed: the device differs from the image at offset ${offset} (0x${offset.toString(16)})`,
    {
      device: target.path,
      offset,
      expected: i >= 0 ? want[i] : undefined,
      actual: i >= 0 ? back[i] : undefined,
    },
  );
}
