import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { logger } from '../log.js';
import { throwIfAborted } from '../util/abort.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import { bmapCandidates, findBmap, mappedBytes, readBmap, type ImageMap } from './bmap.js';
import { discardCached, download, fileSha256, isUrl, type DownloadOptions } from './download.js';
import type { FlashOptions, FlashResult, Flasher } from './flasher.js';
import { findHoles } from './holes.js';
import { ProgressMeter } from './progress.js';
import { checkTarget, REAL_HOST, type HostView, type TargetInfo } from './safety.js';
import { inspectSource, type ImageSource } from './source.js';
import { checkRanges } from './precheck.js';
import { openTarget, type Target } from './target.js';
import { verifyPieces } from './verify.js';
import { sourceBytes, writeImage } from './write.js';

export type { FlashOptions, FlashProgress, FlashResult, Flasher, ImageFormat } from './flasher.js';
export {
  runTwoStage,
  type TwoStageBoard,
  type TwoStageOptions,
  type TwoStageResult,
  type CurrentSensor,
} from './two-stage.js';
export { DEFAULT_DOWNLOAD_DIR } from './download.js';

const log = logger('flash');

/** What the flasher uses from the host; tests swap in fakes (a bit-flipping target, a fake sysfs). */
export interface FlashDeps {
  spawner: Spawner;
  host: HostView;
  openTarget: (info: TargetInfo, imageSize: number) => Promise<Target>;
  now: () => number;
}

export const REAL_DEPS: FlashDeps = {
  spawner: realSpawner,
  host: REAL_HOST,
  openTarget,
  now: () => performance.now(),
};

/** 4 MiB pieces, 4 writes and 4 reads in flight: large enough for O_DIRECT to stream, small enough to overlap. */
export const CHUNK_SIZE = 4 << 20;
export const BUFFERS = 4;
export const READ_AHEAD = 4;

export interface PrepareOptions extends Omit<DownloadOptions, 'signal'> {
  signal?: AbortSignal;
}

/** An image ready to read: a local path, and for a URL the download's sha256 and whether it was cached. */
export interface LocalSource {
  path: string;
  sha256?: string;
  fromCache?: boolean;
  /** Forgets a downloaded copy that turned out bad, so that the next run fetches it again. */
  discard(): Promise<void>;
}

export async function fetchSource(pathOrUrl: string, o: PrepareOptions = {}): Promise<LocalSource> {
  if (!isUrl(pathOrUrl)) {
    const sha256 = o.sha256 ? await localSha256(pathOrUrl, o.sha256) : undefined;
    return { path: pathOrUrl, sha256, discard: () => Promise.resolve() };
  }
  const d = await download(pathOrUrl, o);
  return { path: d.path, sha256: d.sha256, fromCache: d.cached, discard: () => discardCached(d.path) };
}

/** A local image's sha256, which must be the one expected (`--image-sha256`): refused before writing. */
async function localSha256(file: string, expected: string): Promise<string> {
  const actual = await fileSha256(file);
  if (actual !== expected.toLowerCase()) {
    throw new InputError(`${file}: its sha256 is ${actual}, expected ${expected} (--image-sha256)`, {
      file,
      expected,
      actual,
    });
  }
  return actual;
}

/** A local path for an image given as a path or an http(s) URL (downloaded into the cache, resumable). */
export async function prepareSource(pathOrUrl: string, o: PrepareOptions = {}): Promise<string> {
  return (await fetchSource(pathOrUrl, o)).path;
}

/** A bmap published next to an image URL (`os.img.xz` -> `os.img.bmap` ...), if the server has one. */
async function fetchBmap(url: string, o: PrepareOptions): Promise<string | undefined> {
  for (const candidate of bmapCandidates(new URL(url).pathname)) {
    try {
      const u = new URL(url);
      u.pathname = candidate;
      return (await download(u.toString(), { ...o, sha256: undefined, sidecar: false, attempts: 2 })).path;
    } catch (err) {
      if (err instanceof InputError && typeof err.context.status === 'number') continue;
      throw err;
    }
  }
  return undefined;
}

async function imageMap(src: ImageSource, opts: FlashOptions, deps: FlashDeps): Promise<ImageMap> {
  const bmapFile = opts.bmap ?? (await findBmap(src.path));
  if (bmapFile) {
    const map = await readBmap(bmapFile);
    if (src.size !== undefined && src.size !== map.size) {
      throw new InputError(
        `${src.path}: the image is ${src.size} bytes but its bmap ${bmapFile} says ${map.size}`,
        {
          file: src.path,
          expected: map.size,
          actual: src.size,
        },
      );
    }
    return map;
  }
  if (src.size === undefined)
    throw new InputError(`${src.path}: cannot tell the image's size`, { file: src.path });
  if (src.format === 'raw') return findHoles(deps.spawner, src.path, opts.signal);
  return { size: src.size, ranges: src.size > 0 ? [{ start: 0, end: src.size }] : [], kind: 'full' };
}

/** The image itself, under any name (a hard link, a symlink, the same device): by device and inode. */
async function refuseSelf(source: string, info: TargetInfo): Promise<void> {
  const st = await stat(source);
  const same =
    info.kind === 'file'
      ? info.ino !== undefined && st.dev === info.dev && st.ino === info.ino
      : st.isBlockDevice() && st.rdev === info.rdev;
  if (!same) return;
  const alias = resolve(source) === info.device ? '' : ' (the same file under another name)';
  throw new InputError(`${info.path}: refusing to write: it is the image itself${alias}`, {
    device: info.path,
  });
}

/**
 * Writes an image (raw, gz, xz, zst, bz2, zip, or an http(s) URL) to a block device or a file:
 * sparse by its bmap or its holes, direct I/O, read-back verify. Every check on the target, and
 * every check on the image that can be made whole (an index, a raw image's bmap checksums, a gz or
 * bz2 decompressed once), happens before the first byte is written; what can only be judged while
 * streaming (an xz or zstd check, a zip's CRC-32) is covered by the target's commit and abandon.
 */
export async function flash(
  source: string,
  destination: string,
  opts: FlashOptions & { cacheDir?: string } = {},
  deps: FlashDeps = REAL_DEPS,
): Promise<FlashResult> {
  const dl = { cacheDir: opts.cacheDir, signal: opts.signal };
  const local = await fetchSource(source, { ...dl, sha256: opts.imageSha256 });
  if (isUrl(source) && !opts.bmap) opts = { ...opts, bmap: await fetchBmap(source, dl) };
  try {
    const res = await flashLocal(local.path, destination, opts, deps);
    return { ...res, source, sha256: local.sha256, fromCache: local.fromCache };
  } catch (err) {
    // A download that cannot be decompressed (or fails its bmap) is not kept for the next run.
    if (err instanceof InputError && err.context.file === local.path) await local.discard();
    throw err;
  }
}

async function flashLocal(
  local: string,
  destination: string,
  opts: FlashOptions,
  deps: FlashDeps,
): Promise<FlashResult> {
  const src = await inspectSource(deps.spawner, local, opts.signal);
  const map = await imageMap(src, opts, deps);
  const info = await checkTarget(destination, map.size, opts.declared, deps.host);
  await refuseSelf(local, info);
  const rangesChecked = src.format === 'raw' && (await checkRanges(local, map, opts.signal));
  throwIfAborted(opts.signal);
  log(
    '%s (%s, %s map, %d of %d bytes) -> %s',
    local,
    src.format,
    map.kind,
    mappedBytes(map),
    map.size,
    info.device,
  );

  const target = await deps.openTarget(info, map.size);
  try {
    const res = await writeAndVerify(src, map, target, { ...opts, rangesChecked }, deps);
    await target.commit();
    return { ...res, source: local, destination };
  } catch (err) {
    const note = await target.abandon();
    if (note && err instanceof Error) err.message = `${err.message}; ${note}`;
    throw err;
  } finally {
    await target.close();
  }
}

async function writeAndVerify(
  src: ImageSource,
  map: ImageMap,
  target: Target,
  opts: FlashOptions & { rangesChecked: boolean },
  deps: FlashDeps,
): Promise<Omit<FlashResult, 'source' | 'destination'>> {
  const verify = opts.verify !== false;
  const bytes = mappedBytes(map);
  const t0 = deps.now();
  const writeMeter = new ProgressMeter(
    'write',
    src.format === 'raw' ? bytes : map.size,
    opts.onProgress,
    deps.now,
  );
  const io = { chunkSize: CHUNK_SIZE, buffers: BUFFERS, readAhead: READ_AHEAD, signal: opts.signal };
  const pieces = await writeImage(src, map, target, {
    ...io,
    hash: verify,
    meter: writeMeter,
    rangesChecked: opts.rangesChecked,
  });
  await target.sync();
  writeMeter.finish();
  const t1 = deps.now();
  if (verify) {
    const meter = new ProgressMeter('verify', bytes, opts.onProgress, deps.now);
    await verifyPieces(target, pieces, { ...io, meter, sourceBytes: (s, l) => sourceBytes(src, s, l) });
    meter.finish();
  }
  const t2 = deps.now();
  const writeSeconds = (t1 - t0) / 1000;
  return {
    bytesWritten: bytes,
    imageSize: map.size,
    verified: verify,
    writeSeconds,
    verifySeconds: (t2 - t1) / 1000,
    mbPerSecond: writeSeconds > 0 ? bytes / writeSeconds / 1e6 : 0,
    format: src.format,
    map: map.kind,
    direct: target.direct,
  };
}

/** The Flasher interface over `flash`, with the lab's declared devices bound in. */
export class ImageFlasher implements Flasher {
  constructor(
    private readonly declared: string[] = [],
    private readonly deps: FlashDeps = REAL_DEPS,
  ) {}

  flash(source: string, destination: string, opts: FlashOptions = {}): Promise<FlashResult> {
    return flash(
      source,
      destination,
      { ...opts, declared: [...this.declared, ...(opts.declared ?? [])] },
      this.deps,
    );
  }
}
