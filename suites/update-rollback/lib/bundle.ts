import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { InputError } from '../../../rig/errors.js';

/** The bundles a run can give the suite: the good update, and optionally two broken ones. */
export type BundleKind = 'good' | 'unbootable' | 'unhealthy';

/**
 * Where each kind comes from: the artifact the runner sets from the user's option, else the one
 * it builds for the reference OS (`update:<variant>`, whose version is the variant's name).
 */
export const BUNDLE_SOURCES: Record<BundleKind, { artifact: string; option: string; reference: string }> = {
  good: { artifact: 'update-bundle', option: '--update-bundle', reference: 'update:v2' },
  unbootable: {
    artifact: 'update-bundle-unbootable',
    option: '--update-bundle-unbootable',
    reference: 'update:unbootable-update',
  },
  unhealthy: {
    artifact: 'update-bundle-unhealthy',
    option: '--update-bundle-unhealthy',
    reference: 'update:health-fails',
  },
};

/** An update bundle for this run, on the host. */
export interface Bundle {
  kind: BundleKind;
  key: string;
  path: string;
  /** Published checksum of the bundle file, when a `.sha256` sits beside it. */
  sha256?: string;
  bytes: number;
  /** The version it carries, when the run knows it (`update:v2` -> `v2`, or --update-bundle-version). */
  version?: string;
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
 * The bundle of `kind`, or the reason it is missing (the test skips with it, or uses the OS
 * profile's sabotage instead). `version` is what the user said the good bundle carries.
 */
export function resolveBundle(
  artifacts: ReadonlyMap<string, string>,
  kind: BundleKind,
  version?: string,
): Bundle | { missing: string } {
  const src = BUNDLE_SOURCES[kind];
  const key = artifacts.has(src.artifact) ? src.artifact : src.reference;
  const file = artifacts.get(key);
  if (!file) {
    const what = kind === 'good' ? 'update bundle' : `${kind} update bundle`;
    return { missing: `the run has no ${what}: give ${src.option} FILE|URL` };
  }
  if (!existsSync(file)) return { missing: `the ${key} bundle ${file} does not exist` };
  return {
    kind,
    key,
    path: file,
    sha256: readSha256File(file),
    bytes: statSync(file).size,
    version: kind !== 'good' ? undefined : key === src.artifact ? version : key.replace(/^update:/, ''),
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
