import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InfraError, InputError } from '../errors.js';
import { logger } from '../log.js';
import { throwIfAborted } from '../util/abort.js';

const log = logger('flash:download');

export const DEFAULT_DOWNLOAD_DIR = join(homedir(), '.cache/hw-test/downloads');

export interface DownloadOptions {
  cacheDir?: string;
  signal?: AbortSignal;
  /** The image's expected sha256: a cached or downloaded file that differs is refused. */
  sha256?: string;
  /** Attempts, each resuming where the previous one stopped (default 5). */
  attempts?: number;
  /** Per-request idle timeout (default 60 s). */
  idleTimeoutMs?: number;
}

export interface Downloaded {
  path: string;
  sha256: string;
  /** Whether it came from the cache without a request. */
  cached: boolean;
}

const sha256Of = (s: string) => createHash('sha256').update(s).digest('hex');

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), h);
  return h.digest('hex');
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function get(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, idleMs: number) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = mod.get(url, { headers, signal, timeout: idleMs }, resolve);
    req.on('timeout', () => req.destroy(new Error(`no data for ${idleMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * One request: appends to `part` from where it stops. Resolves true when the file is complete,
 * false when the connection dropped (the caller resumes); throws on a definitive HTTP error.
 */
async function attempt(url: string, part: string, o: DownloadOptions, redirects = 5): Promise<boolean> {
  const have = await sizeOf(part);
  const headers: Record<string, string> = have > 0 ? { Range: `bytes=${have}-` } : {};
  let res: http.IncomingMessage;
  try {
    res = await get(url, headers, o.signal, o.idleTimeoutMs ?? 60_000);
  } catch (err) {
    throwIfAborted(o.signal);
    log('%s: %s', url, (err as Error).message);
    return false;
  }
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
    res.resume();
    return attempt(new URL(res.headers.location, url).toString(), part, o, redirects - 1);
  }
  if (status === 416 && have > 0) {
    res.resume();
    return true;
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new InfraError(`${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trim(), { url, status });
  }
  const append = status === 206;
  if (append && !(res.headers['content-range'] ?? '').startsWith(`bytes ${have}-`)) {
    res.resume();
    throw new InfraError(`${url}: the server resumed at the wrong offset (${res.headers['content-range']})`, {
      url,
    });
  }
  const expected = Number(res.headers['content-length'] ?? NaN);
  const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
  try {
    await pipeline(res, out);
  } catch (err) {
    throwIfAborted(o.signal);
    log('%s: dropped after %d bytes: %s', url, await sizeOf(part), (err as Error).message);
    return false;
  }
  if (!res.complete) return false;
  const got = (await sizeOf(part)) - (append ? have : 0);
  return Number.isNaN(expected) || got === expected;
}

/**
 * Downloads `url` into the cache, resuming with an HTTP Range request after a dropped connection
 * (within this call, and across calls from the `.part` file left behind). The cache is keyed by the
 * URL's sha256 and records the content's sha256.
 */
export async function download(url: string, o: DownloadOptions = {}): Promise<Downloaded> {
  const dir = o.cacheDir ?? DEFAULT_DOWNLOAD_DIR;
  await mkdir(dir, { recursive: true });
  const key = sha256Of(url);
  const name = basename(new URL(url).pathname) || 'image';
  const file = join(dir, `${key.slice(0, 16)}-${name}`);
  const index = join(dir, `${key}.json`);
  try {
    const rec = JSON.parse(await readFile(index, 'utf8')) as { sha256: string };
    if ((await sizeOf(file)) > 0 && (!o.sha256 || o.sha256 === rec.sha256)) {
      log('%s: cached as %s', url, file);
      return { path: file, sha256: rec.sha256, cached: true };
    }
  } catch {
    // not cached yet
  }
  const part = `${file}.part`;
  const attempts = o.attempts ?? 5;
  let complete = false;
  for (let i = 0; i < attempts && !complete; i++) {
    throwIfAborted(o.signal);
    complete = await attempt(url, part, o);
  }
  if (!complete) {
    throw new InfraError(
      `${url}: the download kept dropping (${await sizeOf(part)} bytes kept in ${part}; run again to resume)`,
      {
        url,
      },
    );
  }
  const sha256 = await fileSha256(part);
  if (o.sha256 && o.sha256 !== sha256) {
    throw new InputError(`${url}: sha256 is ${sha256}, expected ${o.sha256}`, {
      url,
      expected: o.sha256,
      actual: sha256,
    });
  }
  await rename(part, file);
  await writeFile(index, JSON.stringify({ url, sha256, file }));
  return { path: file, sha256, cached: false };
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}
