import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../rig/errors.js';
import { flash, REAL_DEPS, type FlashDeps } from '../../rig/flash/index.js';
import { openTarget } from '../../rig/flash/target.js';
import { makeImage, MiB, pattern, run, tmpDir } from './flash-helpers.js';

const CLI = join(import.meta.dirname, '../../rig/cli/main.js');

/** `cmd args... < nothing > out`: the compressors' output can be larger than spawnSync's buffer. */
function compress(cmd: string, args: string[], out: string): Buffer {
  run('sh', ['-c', `${cmd} ${args.join(' ')} > ${out}`]);
  return readFileSync(out);
}
const SIZE = 6 * MiB;
const EXTENTS: [number, number][] = [
  [0, MiB],
  [3 * MiB, 2 * MiB + 512],
];

/** A zip made by Python's zipfile (stored or deflated), holding `file` as os.img. */
export function zipOf(file: string, out: string, stored = false): string {
  const r = spawnSync('python3', [
    '-c',
    'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED if sys.argv[3] == "1" else zipfile.ZIP_DEFLATED)\nz.write(sys.argv[2], "os.img")\nz.close()',
    out,
    file,
    stored ? '1' : '0',
  ]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return out;
}

/** Flips one byte of a file at `offset` (negative: from the end). */
export function flip(file: string, offset: number): string {
  const b = readFileSync(file);
  const at = offset < 0 ? b.length + offset : offset;
  b[at] ^= 0x40;
  writeFileSync(file, b);
  return file;
}

/** The byte offset of the (first) block's integrity check in a one-block .xz: just before the index. */
export function xzCheckOffset(xz: Buffer): number {
  const backwardSize = (xz.readUInt32LE(xz.length - 8) + 1) * 4;
  return xz.length - 12 - backwardSize - 8;
}

/** The central directory's record of the first entry (PK\1\2) in a zip. */
function centralEntry(zip: Buffer): number {
  const at = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  if (at < 0) throw new Error('no central directory');
  return at;
}

interface Spy {
  deps: FlashDeps;
  opened: () => boolean;
}
function spy(): Spy {
  let opened = false;
  return {
    deps: {
      ...REAL_DEPS,
      openTarget: (info, size) => {
        opened = true;
        return openTarget(info, size);
      },
    },
    opened: () => opened,
  };
}

describe('flash: images that lie are refused, and a failed flash keeps the old file', function () {
  this.timeout(60_000);
  let dir: string;
  let img: string;

  before(function () {
    dir = tmpDir('hwt-lies-');
    img = makeImage(join(dir, 'os.img'), SIZE, EXTENTS);
  });

  /** Flashes `src` onto a file that holds an old image; the error must be one line, and the file unchanged. */
  async function refusedKeepsOld(src: string, reason: RegExp, deps: FlashDeps = REAL_DEPS): Promise<string> {
    const sub = tmpDir('hwt-card-');
    const card = join(sub, 'card.img');
    const old = pattern(2 * MiB, 99);
    writeFileSync(card, old);
    const err = await flash(src, card, {}, deps).catch((e: unknown) => e);
    expect(err, 'the flash should fail').to.be.instanceOf(InputError);
    const msg = (err as Error).message;
    expect(msg.split('\n'), msg).to.have.length(1);
    expect(msg).to.include(src);
    expect(msg).to.match(reason);
    expect(readFileSync(card).equals(old), 'the old file is destroyed').to.equal(true);
    expect(readdirSync(sub), 'a temporary file is left behind').to.deep.equal(['card.img']);
    return msg;
  }

  it('a zip entry whose bytes do not match its CRC-32 (bit rot in a stored entry)', async function () {
    const zip = zipOf(img, join(dir, 'crc.zip'), true);
    // Inside the entry's data: past the local header (30 bytes + name), in the first extent.
    flip(zip, 30 + 'os.img'.length + 1000);
    await refusedKeepsOld(zip, /CRC-32/);
  });

  it('a zip entry that is shorter than its directory says', async function () {
    const zip = zipOf(img, join(dir, 'size.zip'));
    const b = readFileSync(zip);
    const at = centralEntry(b);
    b.writeUInt32LE(b.readUInt32LE(at + 24) + 4096, at + 24); // uncompressed size
    writeFileSync(zip, b);
    await refusedKeepsOld(zip, /bytes|size/);
  });

  it('a .gz whose CRC32 does not match, refused before the target is opened', async function () {
    const gz = join(dir, 'crc.img.gz');
    compress('gzip', ['-1', '-c', img], gz);
    flip(gz, -5); // the CRC32, just before ISIZE
    const s = spy();
    await refusedKeepsOld(gz, /bad image: gzip/, s.deps);
    expect(s.opened()).to.equal(false);
  });

  it('a .gz whose ISIZE does not match, refused before the target is opened', async function () {
    const gz = join(dir, 'isize.img.gz');
    compress('gzip', ['-1', '-c', img], gz);
    flip(gz, -2);
    const s = spy();
    await refusedKeepsOld(gz, /bad image: gzip/, s.deps);
    expect(s.opened()).to.equal(false);
  });

  it('a truncated .gz, refused before the target is opened', async function () {
    const gz = join(dir, 'cut.img.gz');
    const full = compress('gzip', ['-1', '-c', img], gz);
    writeFileSync(gz, full.subarray(0, full.length >> 1));
    const s = spy();
    await refusedKeepsOld(gz, /bad image: gzip/, s.deps);
    expect(s.opened()).to.equal(false);
  });

  it('a .bz2 with a damaged block, refused before the target is opened', async function () {
    const bz = join(dir, 'bad.img.bz2');
    compress('bzip2', ['-1', '-c', img], bz);
    flip(bz, 200);
    const s = spy();
    await refusedKeepsOld(bz, /bad image: bzip2/, s.deps);
    expect(s.opened()).to.equal(false);
  });

  for (const native of [true, false]) {
    it(`an .xz whose block check does not match (${native ? 'in process' : 'the xz tool'})`, async function () {
      const xz = join(dir, `check-${native}.img.xz`);
      const data = compress('xz', ['-0', '-T1', '-c', img], xz);
      flip(xz, xzCheckOffset(data));
      if (!native) process.env.HW_TEST_NATIVE_XZ = '0';
      try {
        await refusedKeepsOld(xz, /bad image: xz/);
      } finally {
        delete process.env.HW_TEST_NATIVE_XZ;
      }
    });
  }

  it('a .zst whose content checksum does not match', async function () {
    const zst = join(dir, 'check.img.zst');
    compress('zstd', ['-q', '--check', '-c', img], zst);
    flip(zst, -1);
    await refusedKeepsOld(zst, /bad image: zstd/);
  });

  it('a raw image whose bmap range checksum does not match, refused before the target is opened', async function () {
    const raw = makeImage(join(dir, 'stale.img'), SIZE, EXTENTS);
    run('bmaptool', ['create', '-o', `${raw}.bmap`, raw]);
    flip(raw, 3 * MiB + 100);
    const s = spy();
    await refusedKeepsOld(raw, /does not match its bmap/, s.deps);
    expect(s.opened()).to.equal(false);
  });

  it('the CLI: a bad or truncated .gz is exit 2 and one line naming the file, no stack trace', function () {
    const gz = join(dir, 'cli.img.gz');
    const full = compress('gzip', ['-1', '-c', img], gz);
    writeFileSync(gz, full.subarray(0, full.length - 100));
    const r = spawnSync(process.execPath, [CLI, 'flash', '--image', gz, '--to', join(dir, 'x.img')], {
      env: { ...process.env, CI: 'true' },
    });
    const err = r.stderr.toString().trim();
    expect(r.status, err).to.equal(2);
    expect(err.split('\n')).to.have.length(1);
    expect(err).to.match(/^hw-test: .*cli\.img\.gz: bad image: gzip/);
    expect(err).to.not.match(/\n\s+at /);
  });

  it('the help text says what is checked before writing and what happens to a half-written card', function () {
    const r = spawnSync(process.execPath, [CLI, 'flash', '--help']);
    const help = r.stdout.toString().replace(/\s+/g, ' ');
    expect(help).to.match(/before writing/);
    expect(help).to.match(/first MiB .*zeroed/);
    expect(help).to.match(/temporary file/);
  });
});
