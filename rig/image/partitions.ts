import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { InputError } from '../errors.js';

/**
 * Partition tables of image files (MBR with its logical partitions, and GPT), and what
 * filesystem each partition holds, read from the bytes: no loop device, no mount, no tool.
 */

const SECTOR = 512;

export interface Partition {
  /** As Linux numbers it: MBR 1..4 primary, 5.. logical; GPT the entry's index + 1. */
  number: number;
  /** Byte offset in the image. */
  offset: number;
  sizeBytes: number;
  /** MBR: the type byte as two hex digits (`0c`); GPT: the type GUID, lower case. */
  type: string;
  /** GPT partition label (PARTLABEL). */
  name?: string;
}

export interface PartitionTable {
  scheme: 'mbr' | 'gpt';
  partitions: Partition[];
}

export type FsType = 'vfat' | 'ext2' | 'ext3' | 'ext4' | 'unknown';

export interface Filesystem {
  fs: FsType;
  /** The filesystem's label (FAT volume label, ext volume name), when it has one. */
  label?: string;
  /** Free space, when the superblock says (ext). */
  freeBytes?: number;
  /** ext3/4 with a journal still to replay: writing past it would corrupt the filesystem. */
  needsRecovery?: boolean;
}

const EXTENDED = new Set([0x05, 0x0f, 0x85]);
const GPT_EMPTY = '00000000-0000-0000-0000-000000000000';
/** Types with no filesystem to write into (an extended partition's container, a BIOS boot area). */
export const NO_FILESYSTEM = new Set(['05', '0f', '85', '21686148-6449-6e6f-744e-656564454649']);

/** An open image file, read by absolute byte positions; every short read is bad input. */
class ImageReader {
  readonly size: number;
  private constructor(
    readonly file: string,
    private readonly fd: number,
  ) {
    this.size = fstatSync(fd).size;
  }

  static open(file: string): ImageReader {
    try {
      return new ImageReader(file, openSync(file, 'r'));
    } catch (err) {
      throw new InputError(
        `${file}: cannot open the image (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        { file },
      );
    }
  }

  read(offset: number, length: number, what: string): Buffer {
    const buf = Buffer.alloc(length);
    const n = readSync(this.fd, buf, 0, length, offset);
    if (n !== length)
      throw new InputError(`${this.file}: too short to hold ${what} at byte ${offset}`, { file: this.file });
    return buf;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function withImage<T>(file: string, fn: (r: ImageReader) => T): T {
  const r = ImageReader.open(file);
  try {
    return fn(r);
  } finally {
    r.close();
  }
}

function mbrEntries(sector: Buffer): { type: number; start: number; sectors: number }[] {
  return [0, 1, 2, 3].map((i) => {
    const o = 446 + i * 16;
    return { type: sector[o + 4], start: sector.readUInt32LE(o + 8), sectors: sector.readUInt32LE(o + 12) };
  });
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

function readMbrPartitions(r: ImageReader, mbr: Buffer): Partition[] {
  const primary = mbrEntries(mbr);
  const out: Partition[] = [];
  primary.forEach((e, i) => {
    if (e.type !== 0)
      out.push({
        number: i + 1,
        type: hex2(e.type),
        offset: e.start * SECTOR,
        sizeBytes: e.sectors * SECTOR,
      });
  });
  const ext = primary.find((e) => EXTENDED.has(e.type));
  // Logical partitions: a chain of EBRs, each relative to the extended partition's start.
  let ebr = ext?.start;
  for (let n = 5; ext && ebr !== undefined && n < 64; n++) {
    const [logical, next] = mbrEntries(r.read(ebr * SECTOR, SECTOR, `an extended boot record`));
    if (!logical || logical.type === 0) break;
    out.push({
      number: n,
      type: hex2(logical.type),
      offset: (ebr + logical.start) * SECTOR,
      sizeBytes: logical.sectors * SECTOR,
    });
    ebr = next && next.type !== 0 ? ext.start + next.start : undefined;
  }
  return out;
}

/** A GUID as text, from its mixed-endian on-disk form. */
function guid(b: Buffer): string {
  const h = (s: Buffer) => s.toString('hex');
  const le = (s: Buffer) => h(Buffer.from(s).reverse());
  return `${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}`;
}

function readGptPartitions(r: ImageReader): Partition[] {
  const header = r.read(SECTOR, SECTOR, 'a GPT header');
  if (header.toString('latin1', 0, 8) !== 'EFI PART')
    throw new InputError(
      `${r.file}: a protective MBR but no GPT header at sector 1 (512-byte sectors): the partition table is damaged`,
      { file: r.file },
    );
  const entriesLba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const size = header.readUInt32LE(84);
  if (size < 128 || count > 1024)
    throw new InputError(`${r.file}: GPT header with ${count} entries of ${size} bytes: damaged`, {
      file: r.file,
    });
  const table = r.read(entriesLba * SECTOR, count * size, 'the GPT partition entries');
  const out: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const e = table.subarray(i * size, (i + 1) * size);
    const type = guid(e.subarray(0, 16));
    if (type === GPT_EMPTY) continue;
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    const name = e.toString('utf16le', 56, 128).replace(/\0[\s\S]*$/, '');
    out.push({
      number: i + 1,
      type,
      offset: first * SECTOR,
      sizeBytes: (last - first + 1) * SECTOR,
      ...(name ? { name } : {}),
    });
  }
  return out;
}

/** The partition table of an image file or device: MBR (primary and logical) or GPT. */
export function readPartitionTable(file: string): PartitionTable {
  return withImage(file, (r) => {
    const mbr = r.read(0, SECTOR, 'a partition table');
    if (mbr.readUInt16LE(510) !== 0xaa55)
      throw new InputError(
        `${file}: no partition table (neither MBR nor GPT: no 0x55AA signature): is it a whole-disk image?`,
        { file },
      );
    if (mbrEntries(mbr).some((e) => e.type === 0xee))
      return { scheme: 'gpt', partitions: readGptPartitions(r) };
    return { scheme: 'mbr', partitions: readMbrPartitions(r, mbr) };
  });
}

function fatLabel(boot: Buffer): string | undefined {
  // The BPB's copy of the volume label: FAT32 at 71, FAT12/16 at 43 (mkfs.vfat -n sets both copies).
  const fat32 = boot.toString('latin1', 82, 87) === 'FAT32';
  const at = fat32 ? 71 : 43;
  const label = boot.toString('latin1', at, at + 11).trim();
  return label && label !== 'NO NAME' ? label : undefined;
}

function probe(r: ImageReader, offset: number): Filesystem {
  const head = r.read(offset, 2048, 'a filesystem header');
  const sb = head.subarray(1024);
  if (sb.readUInt16LE(56) === 0xef53) {
    const compat = sb.readUInt32LE(92);
    const incompat = sb.readUInt32LE(96);
    // ext4: extents or 64bit or flex_bg; ext3: a journal; else ext2 (what mount would call it).
    const fs: FsType = incompat & (0x40 | 0x80 | 0x200) ? 'ext4' : compat & 0x4 ? 'ext3' : 'ext2';
    const blockSize = 1024 << sb.readUInt32LE(24);
    const free = sb.readUInt32LE(12) + (incompat & 0x80 ? sb.readUInt32LE(0x158) * 2 ** 32 : 0);
    const label = sb.toString('latin1', 120, 136).replace(/\0[\s\S]*$/, '');
    return {
      fs,
      freeBytes: free * blockSize,
      ...(incompat & 0x4 ? { needsRecovery: true } : {}),
      ...(label ? { label } : {}),
    };
  }
  const fatName = head.toString('latin1', 54, 59) + head.toString('latin1', 82, 87);
  if (head.readUInt16LE(510) === 0xaa55 && /FAT1[26]|FAT32/.test(fatName)) {
    const label = fatLabel(head);
    return { fs: 'vfat', ...(label ? { label } : {}) };
  }
  return { fs: 'unknown' };
}

/** What filesystem a partition holds, and its label. */
export function probeFilesystem(file: string, p: Partition): Filesystem {
  if (NO_FILESYSTEM.has(p.type)) return { fs: 'unknown' };
  return withImage(file, (r) => (p.offset + 2048 > r.size ? { fs: 'unknown' } : probe(r, p.offset)));
}

export interface FoundPartition extends Partition, Filesystem {
  scheme: PartitionTable['scheme'];
}

function describePartition(p: Partition & Filesystem): string {
  const names = [p.name && `"${p.name}"`, p.label && p.label !== p.name && `fs "${p.label}"`]
    .filter(Boolean)
    .join(' ');
  return `${p.number}${names ? ` ${names}` : ''} (${p.fs === 'unknown' ? 'no known filesystem' : p.fs})`;
}

/**
 * The partition a profile names: by number, or by a name that is a GPT partition label or a
 * filesystem label. Not found: one line listing what the image has.
 */
export function findPartition(
  file: string,
  ref: number | string,
  field = 'configure.partition',
): FoundPartition {
  const table = readPartitionTable(file);
  const all = table.partitions.map((p) => ({ ...p, ...probeFilesystem(file, p), scheme: table.scheme }));
  const found =
    typeof ref === 'number' || /^\d+$/.test(ref)
      ? all.find((p) => p.number === Number(ref))
      : (all.find((p) => p.name === ref) ?? all.find((p) => p.label === ref));
  if (!found) {
    const has = all.map(describePartition).join(', ') || 'none';
    throw new InputError(
      `${file}: no partition ${typeof ref === 'number' ? ref : `named "${ref}"`} in its ${table.scheme.toUpperCase()} table (it has ${has}): check ${field} in the OS profile`,
      { file, field },
    );
  }
  return found;
}

export { describePartition };
