import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from '../catalog/schema.js';
import { InfraError, InputError } from '../errors.js';
import { logger } from '../log.js';
import { realSpawner } from '../util/spawn.js';
import { cacheRoot, walk, type BuildOptions } from './build.js';

const log = logger('image:stock');

/**
 * Stock distribution images built by the project to prove that the suites work on an OS that is
 * not ours, with a profile alone (docs/your-os.md). Each has its own folder under os/ and its own
 * profile; its cache key hashes that folder only, so the reference OS and it never rebuild each other.
 */
export const STOCK_IMAGES = {
  'debian-12': { dir: 'stock-debian', arch: 'x86_64', profile: 'debian-12.yaml' },
} as const;
export type StockName = keyof typeof STOCK_IMAGES;

export interface StockImage {
  name: StockName;
  image: string;
  /** The OS profile that describes it (os/profiles/). */
  profile: string;
  hash: string;
  cached: boolean;
  seconds: number;
}

/** The hash of the image's own inputs: its os/ folder (build script and overlay), nothing else. */
export async function stockHash(name: StockName): Promise<string> {
  const dir = path.join(ROOT, 'os', STOCK_IMAGES[name].dir);
  const h = createHash('sha256').update(`hw-test-stock\0${name}\0`);
  for (const f of await walk(dir)) {
    // Executable bits matter too: an overlay hook that lost its x bit is another image.
    const mode = (await stat(f)).mode & 0o111 ? 'x' : '-';
    h.update(`${path.relative(dir, f)}\0${mode}\0`)
      .update(await readFile(f))
      .update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

export function isStockName(name: string): name is StockName {
  return Object.hasOwn(STOCK_IMAGES, name);
}

/**
 * Builds (or finds in the cache) a stock distribution image: `~/.cache/hw-test/images/
 * <arch>-<name>-<hash>/disk.img`. Building needs root (debootstrap) and the Debian mirrors.
 */
export async function ensureStockImage(name: string, opts: BuildOptions = {}): Promise<StockImage> {
  if (!isStockName(name))
    throw new InputError(
      `unknown stock image "${name}": stock images are ${Object.keys(STOCK_IMAGES).join(', ')}`,
    );
  const spec = STOCK_IMAGES[name];
  const started = Date.now();
  const hash = await stockHash(name);
  const dir = path.join(cacheRoot(opts.env), 'images', `${spec.arch}-${name}-${hash}`);
  const image = path.join(dir, 'disk.img');
  const profile = path.join(ROOT, 'os', 'profiles', spec.profile);
  if (!opts.force && existsSync(path.join(dir, 'done'))) {
    log('cache hit %s', dir);
    return { name, image, profile, hash, cached: true, seconds: 0 };
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  opts.onLog?.(`building the ${name} image (inputs ${hash}): debootstrap, a few minutes on a fresh machine`);
  const script = path.join(ROOT, 'os', spec.dir, 'build.sh');
  const env = { ...(opts.env ?? process.env), HW_CACHE: cacheRoot(opts.env) };
  const res = await (opts.spawner ?? realSpawner).run('bash', [script, '--out', path.join(tmp, 'disk.img')], {
    signal: opts.signal,
    env,
  });
  if (res.code !== 0) {
    await rm(tmp, { recursive: true, force: true });
    const tail = (res.stderr || res.stdout).trim().split('\n').slice(-5).join('\n  ');
    throw new InfraError(`building the ${name} image failed (exit ${res.code ?? res.signal}):\n  ${tail}`);
  }
  const seconds = (Date.now() - started) / 1000;
  await writeFile(path.join(tmp, 'build.log'), `${res.stdout}\n${res.stderr}`);
  await writeFile(path.join(tmp, 'done'), `${new Date().toISOString()} ${seconds.toFixed(0)} s\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  log('built %s in %ds', image, seconds);
  return { name, image, profile, hash, cached: false, seconds };
}
