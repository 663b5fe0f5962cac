import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { COMPRESSION_SUFFIXES } from './format.js';

/** A byte range of the image to write, `end` exclusive, with the bmap's checksum if it has one. */
export interface Range {
  start: number;
  end: number;
  sha256?: string;
}

/** Which parts of the image matter: everything else is "don't care" and is not written. */
export interface ImageMap {
  size: number;
  ranges: Range[];
  kind: 'bmap' | 'holes' | 'full';
}

export function mappedBytes(map: ImageMap): number {
  return map.ranges.reduce((n, r) => n + (r.end - r.start), 0);
}

function tag(xml: string, name: string, file: string): string {
  const m = new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(xml);
  if (!m)
    throw new InputError(`${file}: corrupt bmap: no <${name}> (regenerate it with bmaptool create)`, {
      file,
    });
  return m[1];
}

function int(xml: string, name: string, file: string): number {
  const v = tag(xml, name, file);
  if (!/^\d+$/.test(v))
    throw new InputError(`${file}: corrupt bmap: <${name}> is "${v}", not a number`, { file });
  return Number(v);
}

/**
 * Parses bmaptool's XML (versions 1.x with SHA1 and 2.x with sha256/sha1), checking the file's own
 * checksum first: the checksum is taken over the file with its own value replaced by zeros.
 */
export function parseBmap(xml: string, file: string): ImageMap {
  const version = /<bmap\s+version="(\d+)\.(\d+)"/.exec(xml);
  if (!version) throw new InputError(`${file}: not a bmap file (no <bmap version="...">)`, { file });
  const major = Number(version[1]);
  if (major > 2)
    throw new InputError(`${file}: bmap version ${version[1]}.${version[2]} is not supported`, { file });
  const csTag = major >= 2 ? 'BmapFileChecksum' : 'BmapFileSHA1';
  const csType = major >= 2 ? tag(xml, 'ChecksumType', file) : 'sha1';
  if (csType !== 'sha256' && csType !== 'sha1') {
    throw new InputError(`${file}: bmap checksum type "${csType}" is not supported`, { file });
  }
  const fileCs = tag(xml, csTag, file);
  const zeroed = xml.replace(fileCs, '0'.repeat(fileCs.length));
  const actual = createHash(csType).update(zeroed).digest('hex');
  if (actual !== fileCs) {
    throw new InputError(`${file}: corrupt bmap: its checksum does not match its content`, {
      file,
      expected: fileCs,
      actual,
    });
  }
  const size = int(xml, 'ImageSize', file);
  const blockSize = int(xml, 'BlockSize', file);
  const blocks = int(xml, 'BlocksCount', file);
  if (blocks !== Math.ceil(size / blockSize)) {
    throw new InputError(`${file}: corrupt bmap: BlocksCount ${blocks} does not fit ImageSize ${size}`, {
      file,
    });
  }
  const ranges: Range[] = [];
  const re = /<Range(?:\s+chksum="([0-9a-f]+)")?\s*>\s*(\d+)(?:\s*-\s*(\d+))?\s*<\/Range>/g;
  for (const m of xml.matchAll(re)) {
    const first = Number(m[2]);
    const last = m[3] === undefined ? first : Number(m[3]);
    if (last < first || last >= blocks) {
      throw new InputError(`${file}: corrupt bmap: range ${m[2]}-${m[3] ?? m[2]} is outside the image`, {
        file,
      });
    }
    const prev = ranges[ranges.length - 1];
    if (prev && first * blockSize < prev.end)
      throw new InputError(`${file}: corrupt bmap: ranges overlap`, { file });
    // sha1 range checksums (bmap 1.x) are not checked: the file checksum already covers the map.
    const sha256 = m[1] && m[1].length === 64 ? m[1] : undefined;
    ranges.push({ start: first * blockSize, end: Math.min((last + 1) * blockSize, size), sha256 });
  }
  return { size, ranges, kind: 'bmap' };
}

export async function readBmap(file: string): Promise<ImageMap> {
  let xml: string;
  try {
    xml = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(
      `${file}: cannot read the bmap (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      {
        file,
      },
    );
  }
  return parseBmap(xml, file);
}

/** Candidates for a bmap next to an image: `img.img.xz` -> `img.img.bmap`, `img.bmap`, ... */
export function bmapCandidates(image: string): string[] {
  let base = image;
  for (let changed = true; changed;) {
    changed = false;
    for (const s of COMPRESSION_SUFFIXES) {
      if (base.endsWith(s)) {
        base = base.slice(0, -s.length);
        changed = true;
      }
    }
  }
  const out = [`${base}.bmap`];
  const dot = base.lastIndexOf('.');
  if (dot > base.lastIndexOf('/')) out.push(`${base.slice(0, dot)}.bmap`);
  if (image !== base) out.push(`${image}.bmap`);
  return out;
}

export async function findBmap(image: string): Promise<string | undefined> {
  for (const c of bmapCandidates(image)) {
    try {
      await access(c);
      return c;
    } catch {
      // not there: try the next name
    }
  }
  return undefined;
}
