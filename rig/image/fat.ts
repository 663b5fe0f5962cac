import { openSync, readSync, closeSync } from 'node:fs';
import { InputError } from '../errors.js';
import { runChecked, type RunResult, type Spawner } from '../util/spawn.js';

const SECTOR = 512;

// mtools checks a floppy-era geometry that partitions made by sfdisk need not match.
const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

export interface MbrPartition {
  /** 1..4 primary, 5.. logical (in the extended partition's chain), as Linux numbers them. */
  number: number;
  type: number;
  startLba: number;
  sectors: number;
  /** Byte offset of the partition in the image. */
  offset: number;
}

const EXTENDED = new Set([0x05, 0x0f, 0x85]);
const FAT_TYPES = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef]);

function readSector(fd: number, lba: number, file: string): Buffer {
  const buf = Buffer.alloc(SECTOR);
  const n = readSync(fd, buf, 0, SECTOR, lba * SECTOR);
  if (n !== SECTOR)
    throw new InputError(`${file}: too short to hold a partition table at sector ${lba}`, { file });
  return buf;
}

function entries(sector: Buffer): { type: number; start: number; sectors: number }[] {
  return [0, 1, 2, 3].map((i) => {
    const o = 446 + i * 16;
    return { type: sector[o + 4], start: sector.readUInt32LE(o + 8), sectors: sector.readUInt32LE(o + 12) };
  });
}

/** Reads the MBR partition table (primary and logical partitions) of an image file or a device. */
export function readMbr(file: string): MbrPartition[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new InputError(
      `${file}: cannot open the image (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { file },
    );
  }
  try {
    const mbr = readSector(fd, 0, file);
    if (mbr.readUInt16LE(510) !== 0xaa55)
      throw new InputError(`${file}: no MBR partition table (no 0x55AA signature): is it a disk image?`, {
        file,
      });
    const primary = entries(mbr);
    if (primary.some((e) => e.type === 0xee))
      throw new InputError(`${file}: a GPT disk; image configuration reads MBR partition tables only`, {
        file,
      });
    const out: MbrPartition[] = [];
    primary.forEach((e, i) => {
      if (e.type !== 0)
        out.push({
          number: i + 1,
          type: e.type,
          startLba: e.start,
          sectors: e.sectors,
          offset: e.start * SECTOR,
        });
    });
    const ext = primary.find((e) => EXTENDED.has(e.type));
    // Logical partitions: a chain of EBRs, each relative to the extended partition's start.
    let ebrLba = ext?.start;
    for (let n = 5; ext && ebrLba !== undefined && n < 64; n++) {
      const [logical, next] = entries(readSector(fd, ebrLba, file));
      if (!logical || logical.type === 0) break;
      const start = ebrLba + logical.start;
      out.push({
        number: n,
        type: logical.type,
        startLba: start,
        sectors: logical.sectors,
        offset: start * SECTOR,
      });
      ebrLba = next && next.type !== 0 ? ext.start + next.start : undefined;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The byte offset of FAT partition `n`, with a one-line error naming the image and partition. */
export function fatPartitionOffset(file: string, n: number): number {
  const parts = readMbr(file);
  const p = parts.find((x) => x.number === n);
  if (!p)
    throw new InputError(
      `${file}: no partition ${n} (has ${parts.map((x) => x.number).join(', ') || 'none'})`,
      { file, field: 'partition' },
    );
  if (!FAT_TYPES.has(p.type)) {
    throw new InputError(
      `${file}: partition ${n} is type 0x${p.type.toString(16).padStart(2, '0')}, not FAT: check configure.partition in the OS profile`,
      { file, field: 'partition' },
    );
  }
  return p.offset;
}

/**
 * mtools on a FAT filesystem inside an image, addressed as `IMAGE@@OFFSET`: no mount, no root,
 * no loop device.
 */
export class FatImage {
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

  /** Creates `dir` and its parents (`a/b`), leaving existing ones alone. */
  async mkdirs(dir: string): Promise<void> {
    const parts = dir.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const d = `::/${parts.slice(0, i).join('/')}`;
      // mmd on an existing name asks on the terminal what to do: look first.
      const exists = await this.spawner.run('mdir', ['-b', '-i', this.target, d], {
        env: MTOOLS_ENV,
        timeoutMs: 30_000,
      });
      if (exists.code === 0) continue;
      const res = await this.spawner.run('mmd', ['-i', this.target, d], {
        env: MTOOLS_ENV,
        timeoutMs: 30_000,
      });
      if (res.code !== 0) {
        const why = `${res.stderr}${res.stdout}`.trim() || `mmd exit ${res.code}`;
        throw new InputError(`${this.image}: cannot create ${d} in the boot partition: ${why}`, {
          file: this.image,
        });
      }
    }
  }

  /** Copies a local file to `remote` (a path in the FAT, `hw-test/hostname`), overwriting. */
  async put(local: string, remote: string): Promise<void> {
    await this.run('mcopy', ['-o', local, `::/${remote.replace(/^\/+/, '')}`]);
  }

  async read(remote: string): Promise<string> {
    return (await this.run('mtype', [`::/${remote.replace(/^\/+/, '')}`])).stdout;
  }
}
