import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError } from '../errors.js';
import { fileInUse, landingPath, underDev, type HostView } from './file-target.js';
import { logger } from '../log.js';

const log = logger('flash:safety');

/** Where the host's view comes from; tests point these at a fake tree. */
export type { HostView } from './file-target.js';

export const REAL_HOST: HostView = { sys: '/sys', proc: '/proc' };

export interface TargetInfo {
  kind: 'file' | 'block';
  /** As given (a by-id path, say). */
  path: string;
  /** The kernel name's path, e.g. /dev/sdb or /dev/loop3; the file's real path for a file. */
  device: string;
  /** Capacity in bytes (block devices). */
  capacity?: number;
  /** Whether the lab file declared it. */
  declared: boolean;
  /** The device number that was checked (block devices): the opened descriptor must have it too. */
  rdev?: number;
  /** An existing file's device and inode: the image itself under another name is refused by them. */
  dev?: number;
  ino?: number;
}

function refuse(dest: string, reason: string, context: Record<string, unknown> = {}): never {
  throw new InputError(`${dest}: refusing to write: ${reason}`, { device: dest, ...context });
}

async function text(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** The block device and the partitions on it, by kernel name, with their major:minor numbers. */
async function deviceTree(
  host: HostView,
  name: string,
): Promise<{ name: string; dev: string; dir: string }[]> {
  const dir = join(host.sys, 'class/block', name);
  const out = [{ name, dev: (await text(join(dir, 'dev'))) ?? '', dir }];
  const isPartition = (await text(join(dir, 'partition'))) !== undefined;
  if (isPartition) return out;
  const disk = join(host.sys, 'block', name);
  for (const child of await list(disk)) {
    if ((await text(join(disk, child, 'partition'))) === undefined) continue;
    out.push({ name: child, dev: (await text(join(disk, child, 'dev'))) ?? '', dir: join(disk, child) });
  }
  return out;
}

/** Why a device must not be written, or undefined: mounted, the root, swap, or held by dm/md. */
export async function busyReason(host: HostView, name: string): Promise<string | undefined> {
  const tree = await deviceTree(host, name);
  const mountinfo = (await text(join(host.proc, 'self/mountinfo'))) ?? '';
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const hit = tree.find((t) => t.dev !== '' && t.dev === f[2]);
    if (!hit) continue;
    const where = f[4] ?? '?';
    return where === '/'
      ? `/dev/${hit.name} holds the host's root filesystem`
      : `/dev/${hit.name} is mounted at ${where} (unmount it first)`;
  }
  const swaps = ((await text(join(host.proc, 'swaps'))) ?? '').split('\n').slice(1);
  for (const line of swaps) {
    const path = line.split(/\s+/)[0];
    if (!path) continue;
    const hit = tree.find((t) => basename(path) === t.name);
    if (hit) return `/dev/${hit.name} is in use as swap (swapoff it first)`;
  }
  for (const t of tree) {
    const holders = await list(join(t.dir, 'holders'));
    if (holders.length)
      return `/dev/${t.name} is held by ${holders.join(', ')} (device mapper, RAID or crypt)`;
  }
  return undefined;
}

async function sameDevice(a: string, b: string): Promise<boolean> {
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false;
  }
}

/**
 * Decides whether `dest` may be written with an image of `imageSize` bytes (undefined: unknown
 * yet). Regular files are always allowed; a block device must be unused, removable or declared by
 * the lab file, and large enough. Throws an InputError of one line naming the device and why.
 */
export async function checkTarget(
  dest: string,
  imageSize: number | undefined,
  declared: readonly string[] = [],
  host: HostView = REAL_HOST,
): Promise<TargetInfo> {
  // `//dev/sdb`, `a/../b` and symlinks (a dangling one too) first: the checks judge where the write lands.
  const landing = await landingPath(dest);
  let st;
  try {
    st = await stat(landing);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (underDev(landing)) {
      refuse(
        dest,
        `no such device${landing === dest ? '' : ` (${landing})`}; a file is never created under /dev (is the card on the host side of the mux?)`,
      );
    }
    return { kind: 'file', path: dest, device: landing, declared: false };
  }
  if (st.isFile()) {
    if (underDev(landing)) {
      refuse(dest, `${landing} is a regular file under /dev, not a device (a tool created it by mistake?)`);
    }
    const inUse = await fileInUse(host, st);
    if (inUse) refuse(dest, inUse);
    return { kind: 'file', path: dest, device: landing, declared: false, dev: st.dev, ino: st.ino };
  }
  if (!st.isBlockDevice()) refuse(dest, 'not a block device or a regular file');

  const device = landing;
  const name = basename(device);
  let isDeclared = false;
  for (const d of declared) if (await sameDevice(d, dest)) isDeclared = true;
  log('%s -> %s (declared: %s)', dest, device, isDeclared);

  const busy = await busyReason(host, name);
  if (busy) refuse(dest, busy);

  const disk =
    (await text(join(host.sys, 'class/block', name, 'partition'))) !== undefined ? undefined : name;
  const removable = disk !== undefined && (await text(join(host.sys, 'block', disk, 'removable'))) === '1';
  if (!removable && !isDeclared) {
    refuse(
      dest,
      `${device} is not removable and the lab file does not declare it (declare it for the board's mux)`,
    );
  }
  const sectors = Number(await text(join(host.sys, 'class/block', name, 'size')));
  const capacity = Number.isFinite(sectors) ? sectors * 512 : undefined;
  if (capacity !== undefined && imageSize !== undefined && capacity < imageSize) {
    refuse(dest, `${device} holds ${capacity} bytes, smaller than the image (${imageSize} bytes)`, {
      expected: imageSize,
      actual: capacity,
    });
  }
  return { kind: 'block', path: dest, device, capacity, declared: isDeclared, rdev: st.rdev };
}
