import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { InputError } from '../errors.js';
import { logger } from '../log.js';
import type { Spawner } from '../util/spawn.js';
import type { ImageFormat } from './flasher.js';
import { detectFormat } from './format.js';
import { nativeXz, xzChunks } from './xz.js';
import { nativeZstd, zstdChunks } from './zstd.js';

const log = logger('flash:source');

/**
 * A decompressed image as a stream of chunks, in order; a chunk may be reused once the next one is
 * asked for. `done` rejects with an InputError when the data was bad.
 */
export interface ImageStream {
  chunks: AsyncIterable<Buffer>;
  done: Promise<void>;
  close(): void;
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

const IMAGE_EXT = /\.(img|raw|iso|wic|hddimg|sdcard|sdimg|rpi-sdimg|bin|dd|image)$/i;

/** The decompressor per format: the standard tool, in native code, reading the file itself. */
function tool(format: 'xz' | 'zst' | 'bz2', path: string): [string, string[]] {
  if (format === 'xz') return ['xz', ['-dc', '-T0', path]];
  if (format === 'zst') return ['zstd', ['-dc', '-q', path]];
  return ['bzip2', ['-dc', path]];
}

function toolStream(spawner: Spawner, cmd: string, args: string[], path: string): ImageStream {
  const proc = spawner.start(cmd, args);
  const errs: Buffer[] = [];
  proc.stderr?.on('data', (b: Buffer) => errs.push(b));
  const done = proc.exited.then(({ code, signal }) => {
    if (code === 0) return;
    const why = Buffer.concat(errs).toString('utf8').trim().split('\n').pop() ?? '';
    if (code === 127)
      throw new InputError(`${path}: ${cmd} is not installed (install it to flash this format)`);
    throw new InputError(`${path}: bad image: ${cmd} failed (${why || `exit ${code ?? signal}`})`, {
      file: path,
      tool: cmd,
    });
  });
  done.catch(() => {});
  return { chunks: proc.stdout!, done, close: () => proc.kill('SIGKILL') };
}

/** yauzl is loaded only for zip images: the other formats start faster without it. */
async function openZip(path: string): Promise<ZipFile> {
  const { default: yauzl } = await import('yauzl');
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zip) => {
      if (err) reject(new InputError(`${path}: bad zip: ${err.message}`, { file: path }));
      else resolve(zip);
    });
  });
}

/** The first image in a zip: the first file entry whose name looks like a disk image. */
function firstImage(zip: ZipFile, path: string): Promise<Entry> {
  return new Promise((resolve, reject) => {
    zip.on('entry', (e: Entry) => {
      if (!e.fileName.endsWith('/') && IMAGE_EXT.test(e.fileName)) resolve(e);
      else zip.readEntry();
    });
    zip.on('end', () =>
      reject(new InputError(`${path}: the zip holds no disk image (*.img, *.raw, *.wic ...)`)),
    );
    zip.on('error', (err: Error) =>
      reject(new InputError(`${path}: bad zip: ${err.message}`, { file: path })),
    );
    zip.readEntry();
  });
}

async function zipSource(path: string): Promise<ImageSource> {
  const zip = await openZip(path);
  let entry: Entry;
  try {
    entry = await firstImage(zip, path);
  } finally {
    zip.close();
  }
  const open = async (): Promise<ImageStream> => {
    const z = await openZip(path);
    const e = await firstImage(z, path);
    const stream = await new Promise<Readable>((resolve, reject) =>
      z.openReadStream(e, (err, s) =>
        err ? reject(new InputError(`${path}: bad zip: ${err.message}`)) : resolve(s),
      ),
    );
    const done = new Promise<void>((resolve, reject) => {
      stream.on('error', (err) =>
        reject(new InputError(`${path}: bad zip entry ${e.fileName}: ${err.message}`)),
      );
      stream.on('end', resolve);
    });
    done.catch(() => {});
    void done.finally(() => z.close()).catch(() => {});
    return { chunks: stream, done, close: () => stream.destroy() };
  };
  return { path, format: 'zip', size: entry.uncompressedSize, entry: entry.fileName, open };
}

function gzStream(path: string): ImageStream {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  const done = new Promise<void>((resolve, reject) => {
    const bad = (err: Error) =>
      reject(new InputError(`${path}: bad image: gzip data: ${err.message}`, { file: path }));
    file.on('error', bad);
    gunzip.on('error', bad);
    gunzip.on('end', resolve);
  });
  done.catch(() => {});
  return { chunks: file.pipe(gunzip), done, close: () => (file.destroy(), gunzip.destroy()) };
}

/** Reads a whole stream to count its bytes: the integrity pass for formats with no index. */
async function countBytes(s: ImageStream, signal?: AbortSignal): Promise<number> {
  let n = 0;
  const onAbort = () => s.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of s.chunks) n += chunk.length;
    await s.done;
    return n;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function listedSize(spawner: Spawner, format: 'xz' | 'zst', path: string): Promise<number | undefined> {
  const [cmd, args] = format === 'xz' ? ['xz', ['--robot', '-l', path]] : ['zstd', ['-l', '-v', path]];
  const res = await spawner.run(cmd, args, { timeoutMs: 60_000 });
  if (res.code === 127)
    throw new InputError(`${path}: ${cmd} is not installed (install it to flash this format)`);
  if (res.code !== 0) {
    // "xz: FILE: Compressed data is corrupt": the file is named once, in front.
    const why = (res.stderr.trim().split('\n').pop() ?? '').split(': ').pop() ?? '';
    throw new InputError(`${path}: bad image: ${cmd} cannot read it (${why || 'corrupt or truncated'})`, {
      file: path,
    });
  }
  if (format === 'xz') {
    const totals = res.stdout.split('\n').find((l) => l.startsWith('totals\t'));
    const v = totals?.split('\t')[4];
    return v ? Number(v) : undefined;
  }
  const m = /Decompressed Size:.*\((\d+) B\)/.exec(res.stdout);
  return m ? Number(m[1]) : undefined;
}

/**
 * Checks an image before anything is written: xz and zstd through their index and frame headers
 * (`xz -l`, `zstd -l`: these read the end of the file, so truncation shows in milliseconds); gz
 * and bz2 have no index, so they are decompressed once to count and check them.
 */
export async function inspectSource(
  spawner: Spawner,
  path: string,
  signal?: AbortSignal,
): Promise<ImageSource> {
  const format = await detectFormat(path);
  log('%s: %s', path, format);
  if (format === 'zip') return zipSource(path);
  if (format === 'raw') {
    const st = await stat(path);
    return {
      path,
      format,
      size: st.size,
      open: () => Promise.resolve(rawStream(path)),
    };
  }
  const open = (): Promise<ImageStream> => {
    if (format === 'gz') return Promise.resolve(gzStream(path));
    const DCtx = format === 'zst' ? nativeZstd() : null;
    if (DCtx) return Promise.resolve(inProcessStream(zstdChunks(DCtx, path)));
    const xz = format === 'xz' ? nativeXz() : null;
    if (xz) return Promise.resolve(inProcessStream(xzChunks(xz, path)));
    const [cmd, args] = tool(format, path);
    return Promise.resolve(toolStream(spawner, cmd, args, path));
  };
  let size: number | undefined;
  if (format === 'xz' || format === 'zst') size = await listedSize(spawner, format, path);
  else size = await countBytes(await open(), signal);
  return { path, format, size, open };
}

function rawStream(path: string): ImageStream {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  const done = new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('end', resolve);
  });
  done.catch(() => {});
  return { chunks: stream, done, close: () => stream.destroy() };
}

/** A decompression in this process (zstd-napi, liblzma) as an ImageStream: `done` settles with the generator. */
function inProcessStream(source: AsyncGenerator<Buffer>): ImageStream {
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
      settle(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }
  return { chunks: chunks(), done, close: () => (closed = true) };
}
