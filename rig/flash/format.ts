import { open } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { inputFile } from '../util/input-file.js';
import type { ImageFormat } from './flasher.js';

/** Magic bytes of the compressed formats we take; anything else is a raw disk image. */
const MAGIC: [ImageFormat, number[]][] = [
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zst', [0x28, 0xb5, 0x2f, 0xfd]],
  ['gz', [0x1f, 0x8b]],
  ['bz2', [0x42, 0x5a, 0x68]],
  ['zip', [0x50, 0x4b, 0x03, 0x04]],
];

export function formatOf(head: Uint8Array): ImageFormat {
  for (const [format, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return format;
  }
  return 'raw';
}

/** Detects the format from the file's first bytes, never from its name. */
export async function detectFormat(path: string): Promise<ImageFormat> {
  // A directory would fail the read with EISDIR; a pipe would never give a size.
  inputFile(path, path, { blockOk: true, missing: 'cannot open the image (ENOENT)' });
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new InputError(
      `${path}: cannot open the image (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      {
        file: path,
      },
    );
  }
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead === 0) throw new InputError(`${path}: the image is empty`, { file: path });
    return formatOf(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** Suffixes stripped when looking for a bmap next to an image (`img.xz` -> `img.bmap`). */
export const COMPRESSION_SUFFIXES = ['.xz', '.zst', '.gz', '.bz2', '.zip'];
