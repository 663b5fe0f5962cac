import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { download, isUrl } from '../flash/download.js';
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

/**
 * A local copy of a user's artifact, checked: a URL is downloaded into the cache like `--image`
 * (resumable, conditional, its credentials masked), with the `.sha256` the server publishes beside
 * it enforced; a file with a `.sha256` beside it must match it. The copy's checksum is left beside
 * a download, where the suite reads it (the board checks the bundle it received with it too).
 */
export async function resolveUserArtifact(
  option: string,
  source: string,
  o: { signal?: AbortSignal; cacheDir?: string } = {},
): Promise<string> {
  if (isUrl(source)) {
    const got = await download(source, { signal: o.signal, cacheDir: o.cacheDir });
    await writeFile(`${got.path}.sha256`, `${got.sha256}\n`);
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
