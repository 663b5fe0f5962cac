import type { Stats } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';

/**
 * Where a path that may not exist yet really lands: symlinks followed (a dangling one too, to
 * where it points), `//dev/x` and `..` normalised. Only the missing last component stays as named.
 */
export async function landingPath(dest: string): Promise<string> {
  let p = resolve(dest);
  for (let hops = 0; hops < 40; hops++) {
    let st: Stats;
    try {
      st = await lstat(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const dir = await realpath(dirname(p)).catch(() => {
        throw new InputError(`${dest}: no such directory: ${dirname(p)}`, { file: dest });
      });
      return join(dir, basename(p));
    }
    if (!st.isSymbolicLink()) return realpath(p);
    p = resolve(dirname(p), await readlink(p));
  }
  throw new InputError(`${dest}: too many levels of symbolic links`, { file: dest });
}

export const underDev = (p: string) => p === '/dev' || p.startsWith('/dev/');

/** The loop devices whose backing file is this one (by device and inode, not by name). */
/** Where the host's sysfs and procfs are (a test points them at a fake tree). */
export interface HostView {
  sys: string;
  proc: string;
}

async function loopsBacking(host: HostView, st: Stats): Promise<string[]> {
  const out: string[] = [];
  let names: string[] = [];
  try {
    names = (await readdir(join(host.sys, 'block'))).filter((n) => n.startsWith('loop'));
  } catch {
    return out;
  }
  for (const name of names) {
    let backing: string;
    try {
      backing = (await readFile(join(host.sys, 'block', name, 'loop/backing_file'), 'utf8')).trim();
    } catch {
      continue; // not attached
    }
    const b = await stat(backing.replace(/ \(deleted\)$/, '')).catch(() => undefined);
    if (b && b.dev === st.dev && b.ino === st.ino) out.push(`/dev/${name}`);
  }
  return out;
}

/** Swap files in use, by device and inode. */
async function isSwapFile(host: HostView, st: Stats): Promise<boolean> {
  let swaps = '';
  try {
    swaps = await readFile(join(host.proc, 'swaps'), 'utf8');
  } catch {
    return false;
  }
  for (const line of swaps.split('\n').slice(1)) {
    const path = line.split(/\s+/)[0];
    if (!path || !path.startsWith('/')) continue;
    const s = await stat(path).catch(() => undefined);
    if (s && s.isFile() && s.dev === st.dev && s.ino === st.ino) return true;
  }
  return false;
}

/**
 * Why an existing regular file must not be written, or undefined: it backs a loop device (attached,
 * or mounted through one: writing under a mounted filesystem corrupts it), or it is a swap file.
 */
export async function fileInUse(host: HostView, st: Stats): Promise<string | undefined> {
  const loops = await loopsBacking(host, st);
  if (loops.length > 0) {
    return `it backs ${loops.join(', ')} (detach it first: losetup -d ${loops[0]})`;
  }
  if (await isSwapFile(host, st)) return 'it is in use as a swap file (swapoff it first)';
  return undefined;
}
