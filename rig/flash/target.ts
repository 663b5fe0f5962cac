import { constants, type promises as fsp } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
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

class FdTarget implements Target {
  #buffered: FileHandle | undefined;
  #closed = false;

  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly direct: boolean,
    readonly align: number,
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
    this.#buffered ??= await open(this.path, constants.O_RDWR);
    return this.#buffered;
  }

  async write(buf: Buffer, length: number, position: number): Promise<void> {
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#buffered?.close();
    await this.fh.close();
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

export async function openTarget(info: TargetInfo, imageSize: number): Promise<Target> {
  if (info.kind === 'file') {
    const fh = await open(info.path, constants.O_RDWR | constants.O_CREAT, 0o644).catch(
      (err: NodeJS.ErrnoException) => {
        throw new InputError(`${info.path}: cannot create the file (${err.code ?? err.message})`, {
          file: info.path,
        });
      },
    );
    // Truncating to zero then to the size makes every hole read as zeros: the file equals the image.
    await fh.truncate(0);
    await fh.truncate(imageSize);
    return new FdTarget(info.path, fh, false, 1, true);
  }
  const flags = constants.O_RDWR | constants.O_EXCL;
  let fh: FileHandle;
  try {
    fh = await open(info.path, flags | constants.O_DIRECT);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY')
      throw new InputError(`${info.path}: refusing to write: the device is in use (busy)`);
    if (code !== 'EINVAL') throw err;
    log('%s: no O_DIRECT, buffered', info.path);
    return new FdTarget(info.path, await open(info.path, flags), false, 1);
  }
  const lbs = await logicalBlockSize(info.device);
  if ((await alignedOffset(fh, Buffer.allocUnsafeSlow(PROBE_BYTES + 8192), lbs)) === undefined) {
    log('%s: no aligned offset found, buffered', info.path);
    await fh.close();
    return new FdTarget(info.path, await open(info.path, flags), false, 1);
  }
  return new FdTarget(info.path, fh, true, lbs);
}
