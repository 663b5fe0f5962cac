import { constants, type promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InfraError, InputError } from '../errors.js';
import { logger } from '../log.js';
import { settle } from '../util/abort.js';
import type { TargetInfo } from './safety.js';

const log = logger('flash:target');

/**
 * Where the image goes: a block device opened with O_DIRECT and O_EXCL where it allows them, or a
 * regular file (buffered, truncated to the image's size so that its holes read as zeros).
 *
 * Contract: `write`/`read` retry transient EIO/EBUSY a bounded number of times; a device that is
 * gone throws an InfraError naming it. Pieces that are not aligned (the image's tail) go through a
 * second, buffered descriptor. `close` is idempotent.
 */
export interface Target {
  readonly path: string;
  readonly direct: boolean;
  /** Offsets, lengths and buffers must be multiples of this for direct I/O (1 when buffered). */
  readonly align: number;
  /** True when every byte reads as zero before the write (a freshly truncated file): zero pieces can be skipped. */
  readonly zeroed: boolean;
  /** `count` buffers of `size` bytes each, aligned for this target's direct I/O. */
  buffers(count: number, size: number): Promise<Buffer[]>;
  write(buf: Buffer, length: number, position: number): Promise<void>;
  read(buf: Buffer, length: number, position: number): Promise<number>;
  sync(): Promise<void>;
  /**
   * The image is complete and verified: a file target's temporary file is renamed over the file
   * (until then the old file is untouched); a device has nothing left to do.
   */
  commit(): Promise<void>;
  /**
   * The flash failed: a file target's temporary file is removed (the old file stays as it was); a
   * device that received any of the image has its first MiB (and the image's last MiB, where a GPT
   * keeps its backup) zeroed, so that a half-written image can never boot. Returns what the error
   * should add for the user, or '' when there is nothing to say. Never throws.
   */
  abandon(): Promise<string>;
  close(): Promise<void>;
}

const GONE = new Set(['ENODEV', 'ENXIO', 'ENOENT', 'ESHUTDOWN', 'ENOMEDIUM', 'EBADF']);
const TRANSIENT = new Set(['EIO', 'EBUSY', 'EAGAIN', 'ETIMEDOUT']);
export const RETRIES = 5;
/** Documented settle time between retries: a USB card reader often recovers within a second. */
const RETRY_SETTLE_MS = 200;

type FileHandle = fsp.FileHandle;

/** Runs one I/O with bounded retries of transient errors, mapping the rest to our error classes. */
export async function withRetries<T>(
  path: string,
  what: string,
  position: number,
  io: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await io();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (GONE.has(code)) {
        throw new InfraError(
          `${path}: the device is gone (${code} while trying to ${what} at offset ${position})`,
          {
            device: path,
            offset: position,
          },
        );
      }
      if (code === 'ENOSPC') {
        throw new InputError(
          `${path}: the device is smaller than the image (no space at offset ${position})`,
          {
            device: path,
          },
        );
      }
      if (!TRANSIENT.has(code) || attempt >= RETRIES) {
        throw new InfraError(
          `${path}: ${code || String(err)} trying to ${what} at offset ${position} (${attempt} tries)`,
          {
            device: path,
            offset: position,
          },
        );
      }
      log('%s: %s at %d, retry %d', path, code, position, attempt);
      await settle(RETRY_SETTLE_MS * attempt);
    }
  }
}

/** What a target does at commit and abandon: a file is renamed into place, a device is zeroed. */
interface Finish {
  /** The file target's temporary file, renamed over `final` by commit. */
  temp?: string;
  final?: string;
  imageSize: number;
  /** A device's capacity: its last MiB is where a GPT keeps its backup header. */
  capacity?: number;
  /** The O_EXCL descriptor that claims the device, when the writes go through another one. */
  claim?: FileHandle;
}

const MiB = 1 << 20;

class FdTarget implements Target {
  #buffered: FileHandle | undefined;
  #closed = false;
  /** The end of the highest write: whether the image's first and last MiB were reached. */
  #high = 0;

  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly direct: boolean,
    readonly align: number,
    private readonly finish: Finish,
    readonly zeroed = false,
  ) {}

  async buffers(count: number, size: number): Promise<Buffer[]> {
    const slab = Buffer.allocUnsafeSlow(Math.max(count * size, PROBE_BYTES) + 4096);
    const base = this.direct ? await alignedOffset(this.fh, slab, this.align) : 0;
    if (base === undefined) throw new InfraError(`${this.path}: no buffer alignment accepted for O_DIRECT`);
    return Array.from({ length: count }, (_, i) => slab.subarray(base + i * size, base + (i + 1) * size));
  }

  private async handleFor(length: number, position: number): Promise<FileHandle> {
    if (!this.direct || (length % this.align === 0 && position % this.align === 0)) return this.fh;
    // Reopened through the descriptor, not the path: a path re-pointed since cannot redirect it.
    this.#buffered ??= await open(`/proc/self/fd/${this.fh.fd}`, constants.O_RDWR);
    return this.#buffered;
  }

  async write(buf: Buffer, length: number, position: number): Promise<void> {
    this.#high = Math.max(this.#high, position + length);
    const fh = await this.handleFor(length, position);
    let done = 0;
    while (done < length) {
      const { bytesWritten } = await withRetries(this.path, 'write', position + done, () =>
        fh.write(buf, done, length - done, position + done),
      );
      if (bytesWritten === 0) throw new InputError(`${this.path}: the device is smaller than the image`);
      done += bytesWritten;
    }
  }

  async read(buf: Buffer, length: number, position: number): Promise<number> {
    const fh = await this.handleFor(length, position);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await withRetries(this.path, 'read', position + done, () =>
        fh.read(buf, done, length - done, position + done),
      );
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async sync(): Promise<void> {
    if (this.#buffered) await withRetries(this.path, 'fsync', 0, () => this.#buffered!.sync());
    await withRetries(this.path, 'fsync', 0, () => this.fh.sync());
  }

  async commit(): Promise<void> {
    const { temp, final } = this.finish;
    if (!temp || !final) return;
    await this.sync();
    await rename(temp, final).catch((err: NodeJS.ErrnoException) => {
      throw new InputError(`${this.path}: cannot replace the file (${err.code ?? err.message})`, {
        file: this.path,
      });
    });
    this.finish.temp = undefined;
    const dir = await open(dirname(final), 'r');
    await dir.sync().finally(() => dir.close());
  }

  async abandon(): Promise<string> {
    if (this.finish.temp) {
      await rm(this.finish.temp, { force: true }).catch(() => {});
      this.finish.temp = undefined;
      return '';
    }
    if (this.#high === 0) return '';
    try {
      await this.zeroEnds();
      return `${this.path} received part of the image: its first MiB was zeroed so that the half-written image cannot boot (and its last MiB, where a GPT keeps its backup)`;
    } catch (err) {
      return `${this.path} received part of the image and its first MiB could not be zeroed (${(err as Error).message}): do not boot it`;
    }
  }

  /**
   * Zeros the first MiB (the partition table and, on many boards, the boot loader), and the last
   * MiB of the image and of the device: a GPT keeps a backup header at the disk's end (the old
   * image's, once it was resized to the card) from which firmware would rebuild the table.
   */
  private async zeroEnds(): Promise<void> {
    const [buf] = await this.buffers(1, MiB);
    buf.fill(0);
    const ends = [this.finish.imageSize, this.finish.capacity ?? 0];
    await this.write(buf, Math.min(MiB, ends[0]), 0);
    for (const end of ends) {
      const at = Math.floor(Math.max(0, end - MiB) / this.align) * this.align;
      if (at >= MiB) await this.write(buf, end - at, at);
    }
    await this.sync();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#buffered?.close();
    await this.fh.close();
    await this.finish.claim?.close();
  }
}

async function logicalBlockSize(device: string): Promise<number> {
  const name = basename(device);
  for (const p of [
    `/sys/class/block/${name}/queue/logical_block_size`,
    `/sys/class/block/${name}/../queue/logical_block_size`,
  ]) {
    try {
      return Number((await readFile(join(p), 'utf8')).trim()) || 512;
    } catch {
      // a partition has no queue of its own: try its disk
    }
  }
  return 512;
}

/**
 * Node cannot allocate aligned memory, but ArrayBuffer memory never moves: the offset into a slab
 * at which O_DIRECT accepts a buffer is found by probing harmless reads at 16-byte steps (malloc
 * aligns to 16). The probe spans two pages: the kernel splits a buffer at page boundaries and wants
 * each segment a multiple of the logical block, which a read inside one page would not test.
 */
const PROBE_BYTES = 8192;

async function alignedOffset(fh: FileHandle, slab: Buffer, lbs: number): Promise<number | undefined> {
  const n = Math.max(lbs, PROBE_BYTES);
  for (let o = 0; o < 4096; o += 16) {
    try {
      await fh.read(slab, o, n, 0);
      return o;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    }
  }
  return undefined;
}

/**
 * A regular file is written to a temporary file beside it (the same directory, so the rename is
 * atomic), and renamed over it only by commit: a flash that fails, or is interrupted, leaves the
 * old file as it was.
 */
async function openFileTarget(info: TargetInfo, imageSize: number): Promise<Target> {
  const final = info.device;
  const temp = join(
    dirname(final),
    `.${basename(final)}.hw-test-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  const mode = await stat(final).then(
    (st) => st.mode & 0o7777,
    () => 0o644,
  );
  const fh = await open(temp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, mode).catch(
    (err: NodeJS.ErrnoException) => {
      throw new InputError(`${info.path}: cannot create the file (${err.code ?? err.message})`, {
        file: info.path,
      });
    },
  );
  try {
    // A fresh file of the image's size reads zeros in every hole: the file equals the image.
    await fh.truncate(imageSize);
  } catch (err) {
    await fh.close();
    await rm(temp, { force: true });
    throw new InputError(
      `${info.path}: cannot size the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      {
        file: info.path,
      },
    );
  }
  return new FdTarget(info.path, fh, false, 1, { temp, final, imageSize }, true);
}

/**
 * The opened descriptor must be the device that was checked: a symlink (a by-id path) re-pointed
 * between the check and the open cannot redirect the write.
 */
async function sameDevice(fh: FileHandle, info: TargetInfo): Promise<void> {
  const st = await fh.stat();
  if (st.isBlockDevice() && (info.rdev === undefined || st.rdev === info.rdev)) return;
  await fh.close();
  throw new InputError(
    `${info.path}: refusing to write: it is no longer the device that was checked (${info.device}); it changed between the check and the open`,
    { device: info.path },
  );
}

export async function openTarget(info: TargetInfo, imageSize: number): Promise<Target> {
  if (info.kind === 'file') return openFileTarget(info, imageSize);
  const flags = constants.O_RDWR | constants.O_EXCL;
  const finish: Finish = { imageSize, capacity: info.capacity };
  let fh: FileHandle;
  try {
    fh = await open(info.path, flags | constants.O_DIRECT);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY')
      throw new InputError(`${info.path}: refusing to write: the device is in use (busy)`);
    if (code !== 'EINVAL') throw err;
    log('%s: no O_DIRECT, buffered', info.path);
    const buffered = await open(info.path, flags);
    await sameDevice(buffered, info);
    return new FdTarget(info.path, buffered, false, 1, finish);
  }
  await sameDevice(fh, info);
  const lbs = await logicalBlockSize(info.device);
  if ((await alignedOffset(fh, Buffer.allocUnsafeSlow(PROBE_BYTES + 8192), lbs)) === undefined) {
    log('%s: no aligned offset found, buffered', info.path);
    // The exclusive descriptor stays open as the claim; the same device, reopened buffered, does the I/O.
    const buffered = await open(`/proc/self/fd/${fh.fd}`, constants.O_RDWR);
    return new FdTarget(info.path, buffered, false, 1, { ...finish, claim: fh });
  }
  return new FdTarget(info.path, fh, true, lbs, finish);
}
