import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, totalmem } from 'node:os';
import { InputError } from '../errors.js';
import { logger } from '../log.js';

const log = logger('flash:xz');

/** rig/flash/native/xzdec.c, built by scripts/build-native.sh into dist/native. */
interface XzBinding {
  create(threads: number, memlimitThreading: number): object;
  code(
    dec: object,
    input: Uint8Array,
    output: Uint8Array,
    finish: boolean,
    cb: (ret: number, consumed: number, produced: number) => void,
  ): void;
  end(dec: object): void;
  lzmaVersion: number;
}

let binding: XzBinding | null | undefined;

/**
 * liblzma's multithreaded decoder in this process, or null where the addon was not built (no
 * compiler or liblzma-dev when `npm run build` ran): the caller then runs `xz -dc -T0` as a child.
 */
export function nativeXz(): XzBinding | null {
  // HW_TEST_NATIVE_XZ=0 takes the xz tool's path (tests cover both; a suspected decoder bug can be ruled out).
  if (process.env.HW_TEST_NATIVE_XZ === '0') return null;
  if (binding !== undefined) return binding;
  try {
    const require = createRequire(import.meta.url);
    binding = require('../../native/xzdec.node') as XzBinding;
  } catch (err) {
    log('native xz decoder not loadable, the xz tool decompresses instead: %s', (err as Error).message);
    binding = null;
  }
  return binding;
}

/** lzma_ret values (lzma/base.h) the decoder can return. */
const LZMA_OK = 0;
const LZMA_STREAM_END = 1;
const WHY: Record<number, string> = {
  5: 'out of memory',
  6: 'over the memory limit',
  7: 'not in the .xz format',
  8: 'unsupported options (a filter this liblzma lacks?)',
  9: 'compressed data is corrupt',
  10: 'the xz data ends in the middle of a stream (truncated?)',
};

/** One output buffer filled: its bytes, and whether the stream ended there. */
interface Filled {
  buf: Buffer;
  n: number;
  end: boolean;
}

const IN_SIZE = 4 << 20;
const OUT_SIZE = 4 << 20;

/**
 * A .xz image decompressed in this process on every core, as `xz -dc -T0` would, but with no pipe:
 * liblzma writes straight into these buffers. Two output buffers: the decoder fills one on the
 * threadpool while the caller hashes and writes the other, so each chunk is valid until the next
 * one is asked for.
 */
export async function* xzChunks(x: XzBinding, path: string): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  // liblzma's own default for xz -T0 is a quarter of the RAM for the threads' buffers.
  const threads = availableParallelism();
  const dec = x.create(threads, Math.floor(totalmem() / 4));
  const code = (input: Buffer, output: Buffer, finish: boolean) =>
    new Promise<[number, number, number]>((resolve) =>
      x.code(dec, input, output, finish, (ret, consumed, produced) => resolve([ret, consumed, produced])),
    );
  let decoded = 0;
  let filePos = 0;
  const fail = (ret: number): never => {
    throw new InputError(
      `${path}: bad image: xz: ${WHY[ret] ?? `liblzma error ${ret}`} (decompressed offset ${decoded})`,
      { file: path, offset: decoded },
    );
  };
  // The fill in flight, if any: the finally waits for it before ending the decoder.
  let next: Promise<Filled> | undefined;
  try {
    const outs = [Buffer.allocUnsafe(OUT_SIZE), Buffer.allocUnsafe(OUT_SIZE)];
    let which = 0;
    const input = Buffer.allocUnsafe(IN_SIZE);
    let src = input.subarray(0, 0);
    let eof = false;
    /** Decodes into outs[which] until it is full or the input runs out; reads more input as needed. */
    const fill = async (): Promise<Filled> => {
      const buf = outs[which];
      let n = 0;
      for (;;) {
        if (src.length === 0 && !eof) {
          const { bytesRead } = await fh.read(input, 0, IN_SIZE, filePos);
          filePos += bytesRead;
          eof = bytesRead === 0;
          src = input.subarray(0, bytesRead);
        }
        const [ret, consumed, produced] = await code(src, buf.subarray(n), eof);
        src = src.subarray(consumed);
        n += produced;
        if (ret === LZMA_STREAM_END) return { buf, n, end: true };
        if (ret !== LZMA_OK) {
          decoded += n;
          fail(ret);
        }
        if (n === buf.length) return { buf, n, end: false };
        // With LZMA_FINISH and nothing produced liblzma says BUF_ERROR; any other stall is a bug.
        if (eof && produced === 0 && consumed === 0) fail(10);
      }
    };
    next = fill();
    while (next) {
      const { buf, n, end }: Filled = await next;
      which ^= 1;
      next = end ? undefined : fill();
      next?.catch(() => {});
      decoded += n;
      if (n > 0) yield buf.subarray(0, n);
    }
    log('%s: %d bytes decoded with %d threads', path, decoded, threads);
  } finally {
    // Never end the decoder under a running lzma_code: the addon defers it, but wait anyway so
    // the file is closed after the last read.
    await next?.catch(() => {});
    x.end(dec);
    await fh.close();
  }
}
