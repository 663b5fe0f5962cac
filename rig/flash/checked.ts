import { HwTestError, InputError } from '../errors.js';
import type { ImageFormat } from './flasher.js';

/**
 * A decompressed image as a stream of chunks, in order; a chunk may be reused once the next one is
 * asked for. `done` rejects with an InputError when the data was bad.
 */
export interface ImageStream {
  chunks: AsyncIterable<Buffer>;
  done: Promise<void>;
  close(): void;
}

/**
 * Chunks from a decompressor as an ImageStream: `done` settles when the chunks end, and whatever
 * the decompressor throws (zlib's "incorrect data check", yauzl's "not enough bytes") becomes an
 * InputError naming the image: a bad image is bad input, never a stack trace.
 */
export function checkedChunks(source: AsyncIterable<Buffer>, path: string, what: string): ImageStream {
  let settle!: (err?: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err === undefined ? resolve() : reject(err));
  });
  done.catch(() => {});
  let closed = false;
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const c of source) {
        if (closed) break;
        yield c;
      }
      settle();
    } catch (err) {
      const e = asBadImage(err, path, what);
      settle(e);
      throw e;
    }
  }
  return { chunks: chunks(), done, close: () => (closed = true) };
}

function asBadImage(err: unknown, path: string, what: string): Error {
  if (err instanceof HwTestError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const code = (err as NodeJS.ErrnoException).code;
  const why = err instanceof Error ? err.message : String(err);
  return new InputError(
    `${path}: bad image: ${what}: ${why}${code && !why.includes(code) ? ` (${code})` : ''}`,
    {
      file: path,
    },
  );
}

/** An image checked before anything is written: format, decompressed size where knowable. */
export interface ImageSource {
  path: string;
  format: ImageFormat;
  /** Decompressed size in bytes; raw: file size, xz: its index, zst: frame header, zip: entry, gz/bz2: counted. */
  size: number | undefined;
  /** For zip: the entry written. */
  entry?: string;
  open(signal?: AbortSignal): Promise<ImageStream>;
}
