import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { InfraError, InputError } from '../errors.js';
import { download, isUrl } from '../flash/download.js';
import { registerSecret } from '../log.js';
import { sha256File } from './hash.js';

/** The checksum published beside a file (`FILE.sha256`: `HEX` or `HEX  name`), if any. */
function sidecarSha256(file: string, what: string): string | undefined {
  const side = `${file}.sha256`;
  if (!existsSync(side)) return undefined;
  const m = /^\s*([0-9a-f]{64})\b/i.exec(readFileSync(side, 'utf8'));
  if (!m)
    throw new InputError(`${side}: not a sha256 checksum file (expected 64 hex digits first)`, {
      file: side,
      what,
    });
  return m[1].toLowerCase();
}

/** The `.sha256` published beside a URL, or undefined when the server has none. */
async function urlSha256(url: string, signal?: AbortSignal, cacheDir?: string): Promise<string | undefined> {
  let file: string;
  try {
    file = (await download(`${url}.sha256`, { signal, cacheDir, attempts: 2 })).path;
  } catch (err) {
    if (err instanceof InfraError && /: HTTP 404\b/.test(err.message)) return undefined;
    throw err;
  }
  const m = /^\s*([0-9a-f]{64})\b/i.exec(readFileSync(file, 'utf8'));
  if (!m)
    throw new InputError(`${url}.sha256: not a sha256 checksum file (expected 64 hex digits first)`, { url });
  return m[1].toLowerCase();
}

/** The credentials of a URL (`https://user:token@host/...`) are secrets: no report shows them. */
export function registerUrlSecrets(source: string): void {
  if (!isUrl(source)) return;
  const u = new URL(source);
  const password = decodeURIComponent(u.password);
  registerSecret(password);
  if (u.password) registerSecret(`${u.username}:${u.password}`);
}

/**
 * A local copy of a user's artifact, checked: a URL is downloaded into the cache like `--image`
 * (resumable, keyed by URL), with the `.sha256` the server publishes beside it enforced; a file
 * with a `.sha256` beside it must match it. Its checksum is left beside the copy, where the suite
 * reads it (the board checks the bundle with it too).
 */
export async function resolveUserArtifact(
  option: string,
  source: string,
  o: { signal?: AbortSignal; cacheDir?: string } = {},
): Promise<string> {
  if (isUrl(source)) {
    registerUrlSecrets(source);
    const sha256 = await urlSha256(source, o.signal, o.cacheDir);
    const got = await download(source, { signal: o.signal, cacheDir: o.cacheDir, sha256 });
    if (sha256 && !existsSync(`${got.path}.sha256`)) await writeFile(`${got.path}.sha256`, `${sha256}\n`);
    return got.path;
  }
  if (!existsSync(source)) throw new InputError(`--${option} ${source}: no such file`, { file: source });
  const expected = sidecarSha256(source, `--${option}`);
  if (expected) {
    const actual = await sha256File(source);
    if (actual !== expected)
      throw new InputError(
        `--${option} ${source}: sha256 is ${actual}, but ${source}.sha256 says ${expected}`,
        {
          file: source,
          expected,
          actual,
        },
      );
  }
  return source;
}
