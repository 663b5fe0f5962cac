import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import { runChecked, type RunResult, type Spawner } from '../util/spawn.js';
import type { FileOptions, PartitionFiles } from './files.js';
import { findPartition } from './partitions.js';

// mtools checks a floppy-era geometry that partitions made by sfdisk need not match.
const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

/** The byte offset of FAT partition `n`, with a one-line error naming the image and partition. */
export function fatPartitionOffset(file: string, n: number | string): number {
  const p = findPartition(file, n);
  if (p.fs !== 'vfat') {
    throw new InputError(
      `${file}: partition ${p.number} is ${p.fs === 'unknown' ? `type ${p.type} with no FAT filesystem` : p.fs}, not FAT: check configure.partition in the OS profile`,
      { file, field: 'configure.partition' },
    );
  }
  return p.offset;
}

/**
 * mtools on a FAT filesystem inside an image, addressed as `IMAGE@@OFFSET`: no mount, no root,
 * no loop device. FAT has no owners or modes: those options are ignored.
 */
export class FatImage implements PartitionFiles {
  readonly fs = 'vfat' as const;

  constructor(
    private readonly spawner: Spawner,
    readonly image: string,
    readonly offset: number,
  ) {}

  private get target(): string {
    return `${this.image}@@${this.offset}`;
  }

  private run(tool: string, args: string[]): Promise<RunResult> {
    return runChecked(this.spawner, tool, ['-i', this.target, ...args], {
      env: MTOOLS_ENV,
      timeoutMs: 30_000,
    });
  }

  private exists(p: string): Promise<boolean> {
    return this.spawner
      .run('mdir', ['-b', '-i', this.target, p], { env: MTOOLS_ENV, timeoutMs: 30_000 })
      .then((r) => r.code === 0);
  }

  /** Creates `dir` and its parents (`a/b`), leaving existing ones alone. */
  async mkdirs(dir: string): Promise<void> {
    const parts = dir.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const d = `::/${parts.slice(0, i).join('/')}`;
      // mmd on an existing name asks on the terminal what to do: look first.
      if (await this.exists(d)) continue;
      const res = await this.spawner.run('mmd', ['-i', this.target, d], {
        env: MTOOLS_ENV,
        timeoutMs: 30_000,
      });
      if (res.code !== 0) {
        const why = `${res.stderr}${res.stdout}`.trim() || `mmd exit ${res.code}`;
        throw new InputError(`${this.image}: cannot create ${d} in the FAT partition: ${why}`, {
          file: this.image,
        });
      }
    }
  }

  /** Copies a local file to `remote` (a path in the FAT, `hw-test/hostname`), overwriting. */
  async put(local: string, remote: string): Promise<void> {
    await this.run('mcopy', ['-o', local, `::/${remote.replace(/^\/+/, '')}`]);
  }

  /** The file's content, or undefined when there is no such file. */
  async read(remote: string): Promise<string | undefined> {
    const p = `::/${remote.replace(/^\/+/, '')}`;
    if (!(await this.exists(p))) return undefined;
    return (await this.run('mtype', [p])).stdout;
  }

  async write(remote: string, content: string, _opts: FileOptions = {}): Promise<void> {
    const dir = path.posix.dirname(remote.replace(/^\/+/, ''));
    if (dir !== '.') await this.mkdirs(dir);
    // The content may be a WiFi passphrase: it lives in a private folder only while mcopy reads it.
    const tmp = mkdtempSync(path.join(tmpdir(), 'hwt-fat-'));
    try {
      const local = path.join(tmp, 'file');
      writeFileSync(local, content, { mode: 0o600 });
      await this.put(local, remote);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  owner(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}
