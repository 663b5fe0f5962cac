import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InfraError, InputError } from '../errors.js';
import { ROOT } from '../catalog/schema.js';
import { logger } from '../log.js';
import { realSpawner, type Spawner } from '../util/spawn.js';

const log = logger('image');

export const VARIANTS = [
  'v1',
  'v2',
  'kernel-panic',
  'hang',
  'no-network',
  'no-ssh',
  'wifi-ignores-config',
  'health-fails',
  'unbootable-update',
  'no-fallback',
  'flasher',
  'flasher-hang',
  'flasher-noop',
  'rw-root',
] as const;
export type Variant = (typeof VARIANTS)[number];
export type OsArch = 'x86_64' | 'armv7';

/** Variants whose update bundle is the point (the disk image is v1, the bundle the new root). */
export const BUNDLE_VARIANTS: ReadonlySet<string> = new Set<string>([
  'v2',
  'health-fails',
  'unbootable-update',
]);

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.HW_TEST_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'hw-test');
}

/** Every regular file below dir, sorted: the input of a content hash. */
export async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** The hash of every build input: the os/ tree (scripts, overlay, bootloader scripts), arch, variant. */
export async function inputHash(arch: OsArch, variant: string): Promise<string> {
  const h = createHash('sha256');
  h.update(`hw-test-os\0${arch}\0${variant}\0`);
  const osDir = path.join(ROOT, 'os');
  for (const f of await walk(osDir)) {
    const rel = path.relative(osDir, f);
    // The profiles describe the OS to the controller; they do not change what is built. The stock
    // distribution images (os/stock-*, rig/image/stock.ts) are other OSes with keys of their own.
    if (rel.startsWith('profiles') || rel.startsWith('stock-') || rel.endsWith('.md')) continue;
    h.update(rel)
      .update('\0')
      .update(await readFile(f))
      .update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

export interface BuiltImage {
  arch: OsArch;
  variant: string;
  image: string;
  /** The update bundle (root filesystem image), for variants that have one. */
  bundle?: string;
  hash: string;
  cached: boolean;
  seconds: number;
}

export interface BuildOptions {
  spawner?: Spawner;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  onLog?: (line: string) => void;
  force?: boolean;
}

/**
 * Builds (or finds in the cache) one variant of the reference OS. The cache is keyed by the input
 * hash, outside the repository, so a fresh machine builds and a warm one does not.
 */
export async function ensureImage(
  arch: OsArch,
  variant: string,
  opts: BuildOptions = {},
): Promise<BuiltImage> {
  if (!(VARIANTS as readonly string[]).includes(variant)) {
    throw new InputError(`unknown image variant "${variant}": variants are ${VARIANTS.join(', ')}`);
  }
  const started = Date.now();
  const hash = await inputHash(arch, variant);
  const dir = path.join(cacheRoot(opts.env), 'images', `${arch}-${variant}-${hash}`);
  const image = path.join(dir, 'disk.img');
  const bundle = BUNDLE_VARIANTS.has(variant) ? path.join(dir, `rootfs-${variant}.ext4.zst`) : undefined;
  if (!opts.force && existsSync(path.join(dir, 'done'))) {
    log('cache hit %s', dir);
    return { arch, variant, image, bundle, hash, cached: true, seconds: 0 };
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const args = [
    path.join(ROOT, 'os', 'build.sh'),
    '--arch',
    arch,
    '--variant',
    variant,
    '--out',
    path.join(tmp, 'disk.img'),
  ];
  if (bundle) args.push('--bundle-out', path.join(tmp, path.basename(bundle)));
  opts.onLog?.(`building ${arch} ${variant} image (inputs ${hash})`);
  const res = await (opts.spawner ?? realSpawner).run('bash', args, { signal: opts.signal, env: opts.env });
  if (res.code !== 0) {
    await rm(tmp, { recursive: true, force: true });
    const tail = (res.stderr || res.stdout).trim().split('\n').slice(-5).join('\n  ');
    throw new InfraError(
      `building the ${arch} ${variant} image failed (exit ${res.code ?? res.signal}):\n  ${tail}`,
    );
  }
  await writeFile(path.join(tmp, 'build.log'), `${res.stdout}\n${res.stderr}`);
  await writeFile(path.join(tmp, 'done'), `${new Date().toISOString()}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  const seconds = (Date.now() - started) / 1000;
  log('built %s in %ds (%d bytes)', image, seconds, (await stat(image)).size);
  return { arch, variant, image, bundle, hash, cached: false, seconds };
}
