import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { logger } from '../log.js';
import { runChecked, type Spawner } from '../util/spawn.js';
import type { ImageMap, Range } from './bmap.js';

const log = logger('flash:holes');

/** The system's Python starts in 80 ms; a version manager's shim on PATH can take ten times that. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * Node has no lseek binding, so the data ranges are listed by a few lines of Python (present
 * wherever bmaptool is) using SEEK_DATA/SEEK_HOLE, the same calls bmaptool uses. It prints
 * "start end" per data range.
 */
const SCRIPT = `
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
pos = 0
out = []
while pos < size:
    try:
        start = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    end = os.lseek(fd, start, os.SEEK_HOLE)
    out.append("%d %d" % (start, end))
    pos = end
print(size)
print("\\n".join(out))
`;

/** Rounds data ranges out to `align` so that every write is aligned for O_DIRECT. */
export function alignRanges(ranges: Range[], size: number, align: number): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    const start = Math.floor(r.start / align) * align;
    const end = Math.min(Math.ceil(r.end / align) * align, size);
    const prev = out[out.length - 1];
    if (prev && start <= prev.end) prev.end = Math.max(prev.end, end);
    else out.push({ start, end });
  }
  return out;
}

/** The data ranges of an uncompressed image, so that an image with no bmap is still written sparsely. */
export async function findHoles(spawner: Spawner, path: string, signal?: AbortSignal): Promise<ImageMap> {
  const res = await runChecked(spawner, PYTHON, ['-c', SCRIPT, path], {
    signal,
    timeoutMs: 60_000,
    what: `listing the holes of ${path}`,
  });
  const lines = res.stdout.trim().split('\n');
  const size = Number(lines[0]);
  if (!Number.isSafeInteger(size)) throw new InputError(`${path}: cannot read its size`, { file: path });
  const ranges: Range[] = [];
  for (const l of lines.slice(1)) {
    const [a, b] = l.split(' ').map(Number);
    if (a !== undefined && b !== undefined && b > a) ranges.push({ start: a, end: b });
  }
  const map: ImageMap = { size, ranges: alignRanges(ranges, size, 4096), kind: 'holes' };
  log('%s: %d data ranges', path, map.ranges.length);
  return map;
}
