import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { InputError } from '../errors.js';
import { logger } from '../log.js';
import { throwIfAborted } from '../util/abort.js';
import type { Spawner } from '../util/spawn.js';
import type { ImageSource, ImageStream } from './checked.js';
import { detectFormat } from './format.js';
import { nativeXz, xzChunks } from './xz.js';
import { nativeZstd, zstdChunks } from './zstd.js';
import { zipSource } from './zip.js';
import { checkedChunks } from './checked.js';

const log = logger('flash:source');

export type { ImageSource, ImageStream } from './checked.js';

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

function gzStream(path: string): ImageStream {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  // zlib checks the gzip trailer itself: a CRC32 or ISIZE that does not match is an error here.
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  pipeline(file, gunzip).catch(() => {});
  const s = checkedChunks(gunzip, path, 'gzip data');
  return { ...s, close: () => (file.destroy(), gunzip.destroy(), s.close()) };
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
  } catch (err) {
    // Closing the decompressor on abort makes it "fail": report the interruption, not a bad image.
    throwIfAborted(signal);
    throw err;
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
    if (DCtx) return Promise.resolve(checkedChunks(zstdChunks(DCtx, path), path, 'zstd'));
    const xz = format === 'xz' ? nativeXz() : null;
    if (xz) return Promise.resolve(checkedChunks(xzChunks(xz, path), path, 'xz'));
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
