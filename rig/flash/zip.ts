import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { InputError } from '../errors.js';
import { checkedChunks, type ImageSource, type ImageStream } from './checked.js';

const IMAGE_EXT = /\.(img|raw|iso|wic|hddimg|sdcard|sdimg|rpi-sdimg|bin|dd|image)$/i;

/** yauzl is loaded only for zip images: the other formats start faster without it. */
async function openZip(path: string): Promise<ZipFile> {
  const { default: yauzl } = await import('yauzl');
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zip) => {
      if (err) reject(new InputError(`${path}: bad zip: ${err.message}`, { file: path }));
      else resolve(zip);
    });
  });
}

/** The first image in a zip: the first file entry whose name looks like a disk image. */
function firstImage(zip: ZipFile, path: string): Promise<Entry> {
  return new Promise((resolve, reject) => {
    zip.on('entry', (e: Entry) => {
      if (!e.fileName.endsWith('/') && IMAGE_EXT.test(e.fileName)) resolve(e);
      else zip.readEntry();
    });
    zip.on('end', () =>
      reject(new InputError(`${path}: the zip holds no disk image (*.img, *.raw, *.wic ...)`)),
    );
    zip.on('error', (err: Error) =>
      reject(new InputError(`${path}: bad zip: ${err.message}`, { file: path })),
    );
    zip.readEntry();
  });
}

/**
 * The entry's bytes, checked as they pass: yauzl checks the sizes but not the CRC-32 (its README:
 * "No CRC-32 Checking"), so a stored entry with a flipped bit would be written as good. The
 * CRC is known only at the entry's end: the flasher's transaction (a file written beside and
 * renamed, a device's first MiB zeroed) covers what was written before.
 */
async function* crcChecked(stream: Readable, path: string, e: Entry): AsyncGenerator<Buffer> {
  let crc = 0;
  let n = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    crc = crc32(chunk, crc);
    n += chunk.length;
    yield chunk;
  }
  if (n !== e.uncompressedSize) {
    throw new InputError(
      `${path}: bad image: zip entry ${e.fileName} holds ${n} bytes, its directory says ${e.uncompressedSize}`,
      { file: path, expected: e.uncompressedSize, actual: n },
    );
  }
  if (crc >>> 0 !== e.crc32 >>> 0) {
    const hex = (v: number) => (v >>> 0).toString(16).padStart(8, '0');
    throw new InputError(
      `${path}: bad image: zip entry ${e.fileName} has CRC-32 ${hex(crc)}, its directory says ${hex(e.crc32)}`,
      { file: path, expected: hex(e.crc32), actual: hex(crc) },
    );
  }
}

export async function zipSource(path: string): Promise<ImageSource> {
  const zip = await openZip(path);
  let entry: Entry;
  try {
    entry = await firstImage(zip, path);
  } finally {
    zip.close();
  }
  const open = async (): Promise<ImageStream> => {
    const z = await openZip(path);
    try {
      const e = await firstImage(z, path);
      const stream = await new Promise<Readable>((resolve, reject) =>
        z.openReadStream(e, (err, s) =>
          err ? reject(new InputError(`${path}: bad zip: ${err.message}`, { file: path })) : resolve(s),
        ),
      );
      const s = checkedChunks(crcChecked(stream, path, e), path, `zip entry ${e.fileName}`);
      void s.done.finally(() => z.close()).catch(() => {});
      return { ...s, close: () => (stream.destroy(), s.close()) };
    } catch (err) {
      z.close();
      throw err;
    }
  };
  return { path, format: 'zip', size: entry.uncompressedSize, entry: entry.fileName, open };
}
