import { createRequire } from 'node:module';
import { open } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { logger } from '../log.js';

const log = logger('flash:zstd');

interface DCtx {
  decompressStream(dst: Uint8Array, src: Uint8Array): [ret: number, produced: number, consumed: number];
}
type DCtxClass = new () => DCtx;

let binding: DCtxClass | null | undefined;

/**
 * libzstd in this process (zstd-napi), or null where the addon is not built (an install with
 * --ignore-scripts): the caller then runs the zstd tool as a child.
 */
export function nativeZstd(): DCtxClass | null {
  if (binding !== undefined) return binding;
  try {
    const require = createRequire(import.meta.url);
    binding = (require('zstd-napi/binding.js') as { DCtx: DCtxClass }).DCtx;
  } catch (err) {
    log('zstd-napi not loadable, the zstd tool decompresses instead: %s', (err as Error).message);
    binding = null;
  }
  return binding;
}

/** Compressed bytes per read; the decompressed bytes per chunk handed on. */
const IN_SIZE = 4 << 20;
const OUT_SIZE = 4 << 20;

/**
 * A .zst image decompressed in this process: no pipe to carry the zero runs through (2 GiB of them
 * for a 2 GiB image with 20% data cost more than the decompression itself), one read ahead.
 * The chunks share one buffer: each is valid until the next is asked for.
 */
export async function* zstdChunks(DCtx: DCtxClass, path: string): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    const dctx = new DCtx();
    const out = Buffer.allocUnsafe(OUT_SIZE);
    const inputs = [Buffer.allocUnsafe(IN_SIZE), Buffer.allocUnsafe(IN_SIZE)];
    let which = 0;
    let filePos = 0;
    let pending = fh.read(inputs[0], 0, IN_SIZE, 0);
    // Non-zero until a frame ends and is fully flushed: still non-zero at EOF means truncated.
    let left = 1;
    let decoded = 0;
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const cur = inputs[which];
      which ^= 1;
      filePos += bytesRead;
      pending = fh.read(inputs[which], 0, IN_SIZE, filePos);
      pending.catch(() => {});
      let src = cur.subarray(0, bytesRead);
      let full: boolean;
      do {
        let produced: number;
        let consumed: number;
        try {
          [left, produced, consumed] = dctx.decompressStream(out, src);
        } catch (err) {
          throw new InputError(
            `${path}: bad image: zstd: ${(err as Error).message} (decompressed offset ${decoded})`,
            { file: path, offset: decoded },
          );
        }
        src = src.subarray(consumed);
        decoded += produced;
        full = produced === out.length;
        if (produced > 0) yield out.subarray(0, produced);
      } while (src.length > 0 || full);
    }
    if (left !== 0) {
      throw new InputError(
        `${path}: bad image: the zstd data ends in the middle of a frame (truncated at ${filePos} bytes)`,
        { file: path },
      );
    }
  } finally {
    await fh.close();
  }
}
