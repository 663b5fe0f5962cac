import type { Target } from '../../rig/flash/target.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MiB = 1 << 20;

const made: string[] = [];
// Test images add up to hundreds of MB: remove them when the test process ends.
process.once('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function tmpDir(prefix = 'hwt-flash-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** Deterministic bytes (xorshift), so a failure reproduces. */
export function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed | 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  return b;
}

/** A sparse image: `size` bytes with data only in `extents` ([offset, length] pairs). */
export function makeImage(path: string, size: number, extents: [number, number][], seed = 7): string {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  extents.forEach(([off, len], i) => writeSync(fd, pattern(len, seed + i), 0, len, off));
  closeSync(fd);
  return path;
}

/**
 * The in-process decompressors' test image: 24 MiB, larger than their 4 MiB input and output
 * buffers, with zero runs between the data (one extent ends off a sector boundary).
 */
export function decompressorImage(dir: string): string {
  return makeImage(join(dir, 'os.img'), 24 * MiB, [
    [0, 3 * MiB],
    [9 * MiB, 5 * MiB + 512],
    [22 * MiB, MiB],
  ]);
}

/** The sha256 and length of a decompressor's chunks, stopping after `stopAfter` of them. */
export async function digestChunks(
  chunks: AsyncIterable<Buffer>,
  stopAfter = Infinity,
): Promise<{ sha: string; n: number }> {
  const h = createHash('sha256');
  let n = 0;
  let count = 0;
  for await (const c of chunks) {
    h.update(c);
    n += c.length;
    if (++count >= stopAfter) break;
  }
  return { sha: h.digest('hex'), n };
}

export function sha256(path: string, length?: number): string {
  const data = readFileSync(path);
  return createHash('sha256')
    .update(length === undefined ? data : data.subarray(0, length))
    .digest('hex');
}

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** Why loop devices cannot be used here, or undefined when they can. */
export function noLoopReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: loop devices need root';
  if (!has('losetup')) return 'losetup is not installed';
  const r = spawnSync('losetup', ['-f']);
  if (r.status !== 0) return `no free loop device (${r.stderr.toString().trim()})`;
  return undefined;
}

/** Attaches `file` to a loop device for `fn`, and always detaches it. */
export async function withLoop<T>(file: string, fn: (dev: string) => Promise<T>): Promise<T> {
  const dev = run('losetup', ['-f', '--show', file]).trim();
  try {
    return await fn(dev);
  } finally {
    spawnSync('losetup', ['-d', dev]);
  }
}

export type Write = (buf: Buffer, length: number, position: number) => Promise<void>;

/** The real target with another write (its methods stay bound to it). */
export function withWrite(t: Target, write: (real: Write) => Write): Target {
  return {
    get path() {
      return t.path;
    },
    get direct() {
      return t.direct;
    },
    get align() {
      return t.align;
    },
    get zeroed() {
      return t.zeroed;
    },
    buffers: (c, s) => t.buffers(c, s),
    read: (b, l, p) => t.read(b, l, p),
    sync: () => t.sync(),
    commit: () => t.commit(),
    abandon: () => t.abandon(),
    close: () => t.close(),
    write: write((b, l, p) => t.write(b, l, p)),
  };
}
