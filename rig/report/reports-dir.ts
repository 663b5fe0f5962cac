import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';

/** Kernel filesystems that hold no files of ours (statfs magic numbers, linux/magic.h). */
const PSEUDO: Record<number, string> = {
  0x9fa0: 'procfs',
  0x62656572: 'sysfs',
  0x64626720: 'debugfs',
  0x27e0eb: 'cgroupfs',
  0x63677270: 'cgroup2',
  0x73636673: 'securityfs',
  0x6e736673: 'nsfs',
  0xcafe4a11: 'bpffs',
  0x74726163: 'tracefs',
};

function existingAncestor(dir: string): { at: string; isDir: boolean } {
  for (let p = dir; ; p = path.dirname(p)) {
    try {
      return { at: p, isDir: statSync(p).isDirectory() };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a component above is a file; keep going up to find it.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || p === path.dirname(p)) throw err;
    }
  }
}

/**
 * `--reports DIR` checked before anything runs: a file, a path under a file, a read-only
 * filesystem, or a kernel filesystem (/proc, /sys) cannot hold a report. Under /proc, Node's
 * recursive mkdir would spin for ever (rig/util/mkdirs.ts). Nothing is created here.
 */
export function checkReportsDir(dir: string, option = '--reports'): string {
  const abs = path.resolve(dir);
  const label = `${option} ${dir}`;
  const { at, isDir } = existingAncestor(abs);
  if (!isDir) {
    throw new InputError(
      at === abs
        ? `${label}: is a file, not a folder`
        : `${label}: ${at} is a file, so no folder can be made under it`,
      { file: abs, field: option },
    );
  }
  const fs = PSEUDO[statfsSync(at).type];
  if (fs) {
    throw new InputError(
      `${label}: ${at} is on ${fs}, a kernel filesystem: reports cannot be written there`,
      {
        file: abs,
        field: option,
      },
    );
  }
  try {
    accessSync(at, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EROFS' ? 'is on a read-only filesystem' : `is not writable (${code ?? String(err)})`;
    throw new InputError(`${label}: ${at} ${why}`, { file: abs, field: option });
  }
  return abs;
}
