import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InfraError, InputError } from '../errors.js';
import { logger, maskUrl, registerUrlSecrets } from '../log.js';
import { settle, throwIfAborted } from '../util/abort.js';

const log = logger('flash:download');

/** Where downloads are cached: $HW_TEST_DOWNLOADS, or `downloads` in hw-test's cache folder. */
export function downloadDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HW_TEST_DOWNLOADS) return env.HW_TEST_DOWNLOADS;
  const cache = env.HW_TEST_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hw-test');
  return join(cache, 'downloads');
}

export const DEFAULT_DOWNLOAD_DIR = downloadDir();

/** The first retry after a drop waits this long, each next one twice as long (capped at a minute). */
export const BACKOFF_MS = 2000;
const BACKOFF_CAP_MS = 60_000;

export interface DownloadOptions {
  cacheDir?: string;
  signal?: AbortSignal;
  /** The image's expected sha256 (`--image-sha256`): a cached or downloaded file that differs is refused. */
  sha256?: string;
  /** Look for a `URL.sha256` beside the file and check against it (default true; a bmap has its own). */
  sidecar?: boolean;
  /** Attempts after a dropped transfer or a server error, each resuming where the last stopped (default 6). */
  attempts?: number;
  /** Per-request idle timeout (default 60 s). */
  idleTimeoutMs?: number;
  /** The first back-off (default BACKOFF_MS). */
  backoffMs?: number;
  onRetry?: (attempt: number, delayMs: number, why: string) => void;
}

export interface Downloaded {
  path: string;
  sha256: string;
  /** Whether the server said the cached copy is current (304), so that no body was transferred. */
  cached: boolean;
}

/** The cache's record of a download: the validators to revalidate it with, and its content's sha256. */
interface Record_ {
  url: string;
  sha256: string;
  etag?: string;
  lastModified?: string;
}

/** Connection errors that say the URL cannot be reached at all: the user's input, not a drop. */
const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

const sha256Of = (s: string) => createHash('sha256').update(s).digest('hex');

export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), h);
  return h.digest('hex');
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
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

/** What one request achieved. */
type Outcome =
  | { kind: 'done'; etag?: string; lastModified?: string }
  | { kind: 'not-modified' }
  | { kind: 'dropped'; why: string };

interface Attempt {
  url: string;
  part: string;
  /** Validators of the cached copy: asked as a conditional GET. */
  cached?: Record_;
  /** Validators of the bytes already in `part`: a resume asks for the same content (If-Range). */
  partOf?: { etag?: string; lastModified?: string };
  /** Bytes may be appended to `part` without a validator: they came in this same call. */
  blindResume: boolean;
  o: DownloadOptions;
}

function requestHeaders(a: Attempt, have: number): Record<string, string> {
  const h: Record<string, string> = {};
  if (have > 0) {
    h.Range = `bytes=${have}-`;
    const v = a.partOf?.etag ?? a.partOf?.lastModified;
    if (v) h['If-Range'] = v;
  } else if (a.cached?.etag) h['If-None-Match'] = a.cached.etag;
  else if (a.cached?.lastModified) h['If-Modified-Since'] = a.cached.lastModified;
  return h;
}

/** One request: appends to `part` from where it stops, or learns that the cached copy is current. */
async function attempt(a: Attempt, redirects = 5): Promise<Outcome> {
  const { o } = a;
  const safe = maskUrl(a.url);
  let have = await sizeOf(a.part);
  if (have > 0 && !a.partOf?.etag && !a.partOf?.lastModified && !a.blindResume) {
    await rm(a.part, { force: true }); // left by an earlier run, with nothing to prove it is the same file
    have = 0;
  }
  let res: http.IncomingMessage;
  try {
    res = await get(a.url, requestHeaders(a, have), o.signal, o.idleTimeoutMs ?? 60_000);
  } catch (err) {
    throwIfAborted(o.signal);
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (UNREACHABLE.has(code) && have === 0) {
      throw new InputError(
        `${safe}: cannot reach ${new URL(a.url).host} (${code}): check the URL and this host's network`,
        { url: safe, code },
      );
    }
    return { kind: 'dropped', why: code || (err as Error).message };
  }
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && status !== 304 && res.headers.location && redirects > 0) {
    res.resume();
    return attempt({ ...a, url: new URL(res.headers.location, a.url).toString() }, redirects - 1);
  }
  if (status === 304) {
    res.resume();
    return { kind: 'not-modified' };
  }
  if (status === 416 && have > 0) {
    res.resume();
    return { kind: 'done', ...a.partOf };
  }
  if (status >= 500) {
    res.resume();
    return { kind: 'dropped', why: `HTTP ${status}` };
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new InputError(
      `${safe}: HTTP ${status} ${res.statusMessage ?? ''}: check the URL (and its credentials)`.replace(
        / +:/,
        ':',
      ),
      { url: safe, status },
    );
  }
  return receive(a, res, status === 206 ? have : 0);
}

/** Writes a 200 (from the start) or a 206 (appended at `from`) body into the part file. */
async function receive(a: Attempt, res: http.IncomingMessage, from: number): Promise<Outcome> {
  const safe = maskUrl(a.url);
  if (from > 0 && !(res.headers['content-range'] ?? '').startsWith(`bytes ${from}-`)) {
    res.resume();
    throw new InfraError(
      `${safe}: the server resumed at the wrong offset (${res.headers['content-range']})`,
      {
        url: safe,
        boardFault: false,
      },
    );
  }
  const validators = {
    etag: res.headers.etag,
    lastModified: res.headers['last-modified'],
  };
  a.partOf = validators;
  await writeFile(`${a.part}.json`, JSON.stringify(validators));
  const expected = Number(res.headers['content-length'] ?? NaN);
  try {
    await pipeline(res, createWriteStream(a.part, { flags: from > 0 ? 'a' : 'w' }));
  } catch (err) {
    throwIfAborted(a.o.signal);
    return { kind: 'dropped', why: (err as Error).message };
  }
  const got = (await sizeOf(a.part)) - from;
  if (!res.complete || (!Number.isNaN(expected) && got !== expected)) {
    return { kind: 'dropped', why: `${got} of ${expected} bytes` };
  }
  return { kind: 'done', ...validators };
}

/**
 * Transfers the body into `part`, retrying drops and server errors with exponential back-off and
 * resuming with Range; or learns that the cached copy is current.
 */
async function transfer(a: Attempt): Promise<Outcome> {
  const attempts = a.o.attempts ?? 6;
  const base = a.o.backoffMs ?? BACKOFF_MS;
  let last = '';
  for (let n = 1; n <= attempts; n++) {
    throwIfAborted(a.o.signal);
    const r = await attempt(a);
    if (r.kind !== 'dropped') return r;
    last = r.why;
    a.blindResume = true;
    a.cached = undefined;
    if (n === attempts) break;
    const delay = Math.min(base * 2 ** (n - 1), BACKOFF_CAP_MS);
    log('%s: %s; retry %d in %d ms', maskUrl(a.url), r.why, n, delay);
    a.o.onRetry?.(n, delay, r.why);
    await settle(delay, a.o.signal);
  }
  // The network or the server, not the board: an infra result that no board is blamed for.
  throw new InfraError(
    `${maskUrl(a.url)}: the download kept dropping (${last}; ${attempts} tries, ${await sizeOf(a.part)} bytes kept in ${a.part}: run again to resume)`,
    { url: maskUrl(a.url), boardFault: false },
  );
}

/** The sha256 a `URL.sha256` beside the file publishes, if the server has one (`HEX  name` or `HEX`). */
async function sidecarSha256(url: string, o: DownloadOptions): Promise<string | undefined> {
  const u = new URL(url);
  u.pathname += '.sha256';
  try {
    const res = await get(u.toString(), {}, o.signal, 10_000);
    const chunks: Buffer[] = [];
    for await (const c of res as AsyncIterable<Buffer>) {
      chunks.push(c);
      if (chunks.length > 64) break;
    }
    if (res.statusCode !== 200) return undefined;
    return /\b([0-9a-fA-F]{64})\b/.exec(Buffer.concat(chunks).toString('utf8'))?.[1].toLowerCase();
  } catch {
    throwIfAborted(o.signal);
    return undefined;
  }
}

/** The checksums a download must match, each with where it came from (for the message). */
async function expectedSums(url: string, o: DownloadOptions): Promise<[string, string][]> {
  const out: [string, string][] = [];
  if (o.sha256) out.push([o.sha256.toLowerCase(), '--image-sha256']);
  if (o.sidecar !== false) {
    const side = await sidecarSha256(url, o);
    if (side) {
      const u = new URL(url);
      u.pathname += '.sha256';
      out.push([side, maskUrl(u.toString())]);
    }
  }
  return out;
}

function mismatch(url: string, actual: string, sums: [string, string][]): InputError | undefined {
  const bad = sums.find(([want]) => want !== actual);
  if (!bad) return undefined;
  return new InputError(`${maskUrl(url)}: its sha256 is ${actual}, expected ${bad[0]} (${bad[1]})`, {
    url: maskUrl(url),
    expected: bad[0],
    actual,
  });
}

/**
 * Downloads `url` into the cache, revalidated every time: a conditional GET (If-None-Match or
 * If-Modified-Since) keeps the cached copy only when the server says it is current (304), and a
 * server without validators is downloaded again. The content must match `--image-sha256` and a
 * `URL.sha256` beside it; a cached copy that no longer matches its own sha256 is discarded.
 * Drops are retried with back-off and resumed. The cache is keyed by the URL without its
 * credentials and signatures, so a re-signed URL of the same file still finds it.
 */
export async function download(url: string, o: DownloadOptions = {}): Promise<Downloaded> {
  registerUrlSecrets(url);
  const dir = o.cacheDir ?? downloadDir();
  await mkdir(dir, { recursive: true });
  const key = sha256Of(maskUrl(url));
  const file = join(dir, `${key.slice(0, 16)}-${basename(new URL(url).pathname) || 'image'}`);
  const index = join(dir, `${key}.json`);
  const part = `${file}.part`;
  let rec = await readJson<Record_>(index);
  if (rec && (await sizeOf(file)) === 0) rec = undefined;
  const a: Attempt = { url, part, cached: rec, blindResume: false, o };
  a.partOf = await readJson(`${part}.json`);
  const got = await transfer(a);
  const sums = await expectedSums(url, o);
  if (got.kind === 'not-modified') {
    if (!rec) {
      throw new InfraError(`${maskUrl(url)}: the server answered 304 to a request that was not conditional`, {
        url: maskUrl(url),
        boardFault: false,
      });
    }
    const actual = await fileSha256(file);
    if (actual === rec.sha256 && !mismatch(url, actual, sums)) {
      log('%s: current, cached as %s', maskUrl(url), file);
      return { path: file, sha256: actual, cached: true };
    }
    log('%s: the cached copy fails its checksum: downloading again', maskUrl(url));
    await discardCached(file);
    return download(url, o);
  }
  const sha256 = await fileSha256(part);
  const bad = mismatch(url, sha256, sums);
  if (bad) {
    await rm(part, { force: true });
    await rm(`${part}.json`, { force: true });
    throw bad;
  }
  await rename(part, file);
  await rm(`${part}.json`, { force: true });
  const fresh = got.kind === 'done' ? got : undefined;
  const record: Record_ = { url: maskUrl(url), sha256, etag: fresh?.etag, lastModified: fresh?.lastModified };
  await writeFile(index, JSON.stringify({ ...record, file }));
  return { path: file, sha256, cached: false };
}

/** Removes a cached download and its record (a file that cannot be decompressed, or fails its sum). */
export async function discardCached(file: string): Promise<void> {
  const key = basename(file).slice(0, 16);
  const dir = join(file, '..');
  await rm(file, { force: true });
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (f.startsWith(key) && f.endsWith('.json') && f.length === 64 + 5)
      await rm(join(dir, f), { force: true });
  }
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}
