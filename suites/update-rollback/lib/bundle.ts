import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { InputError } from '../../../rig/errors.js';

/** An update bundle the runner prepared (`update:v2` -> `rootfs-v2.ext4.zst` + `.sha256`). */
export interface Bundle {
  key: string;
  path: string;
  /** Published checksum of the bundle file, when a `.sha256` sits beside it. */
  sha256?: string;
  bytes: number;
  /** The version it carries, from the key (`update:v2` -> `v2`). */
  version: string;
}

/** Reads `FILE.sha256` (`HEX` or `HEX  name`), undefined when there is none. */
export function readSha256File(file: string): string | undefined {
  const side = `${file}.sha256`;
  if (!existsSync(side)) return undefined;
  const m = /^\s*([0-9a-f]{64})\b/i.exec(readFileSync(side, 'utf8'));
  if (!m)
    throw new InputError(
      `${side}: not a sha256 checksum file (expected 64 hex digits first): rebuild the bundle`,
      { file: side },
    );
  return m[1].toLowerCase();
}

/**
 * The bundle for `key`, or the reason it is missing (the suite skips with it: a run without
 * bundles, e.g. another OS without an update bundle given, cannot test updates).
 */
export function resolveBundle(
  artifacts: ReadonlyMap<string, string>,
  key: string,
): Bundle | { missing: string } {
  const file = artifacts.get(key);
  if (!file) {
    const known = [...artifacts.keys()].filter((k) => k.startsWith('update:'));
    return {
      missing: `no ${key} bundle among the run's artefacts (${known.length ? known.join(', ') : 'none'}): the runner provides it with the reference OS images`,
    };
  }
  if (!existsSync(file)) return { missing: `the ${key} bundle ${file} does not exist` };
  return {
    key,
    path: file,
    sha256: readSha256File(file),
    bytes: statSync(file).size,
    version: key.replace(/^update:/, ''),
  };
}

export function sha256Of(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256OfFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function remoteBundlePath(dir: string, bundle: Pick<Bundle, 'path'>): string {
  return path.posix.join(dir, path.basename(bundle.path));
}
