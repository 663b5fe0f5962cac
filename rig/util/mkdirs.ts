import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * `mkdir -p`, one component at a time. Node's `mkdir(dir, { recursive: true })` reads ENOENT as
 * "the parent is missing", makes the parent (EEXIST) and tries again: under /proc, where mkdir of
 * anything answers ENOENT, it spins in the threadpool for ever at 100% CPU and its promise never
 * settles (the same loop bun fixed in oven-sh/bun#40600). Here an ENOENT under a parent that
 * exists is final, and a component that is a file says so (ENOTDIR).
 */
export async function mkdirs(dir: string): Promise<void> {
  const abs = path.resolve(dir);
  const parts = abs.split(path.sep).filter(Boolean);
  let p = path.parse(abs).root;
  for (const part of parts) {
    p = path.join(p, part);
    try {
      await mkdir(p);
      continue;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const st = await stat(p);
    if (!st.isDirectory()) {
      throw Object.assign(new Error(`ENOTDIR: ${p} is not a directory`), { code: 'ENOTDIR', path: p });
    }
  }
}
