import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { InputError } from '../../rig/errors.js';
import { flash } from '../../rig/flash/index.js';
import { has, makeImage, MiB, noLoopReason, run, sha256, tmpDir, withLoop } from '../unit/flash-helpers.js';

const SIZE = 24 * MiB;
const EXTENTS: [number, number][] = [
  [0, MiB],
  [4 * MiB, 2 * MiB + 4096],
  [20 * MiB, 3 * MiB],
];

/** The device's first `n` bytes' sha256: what a user would compare with the image. */
function deviceSha(dev: string, n: number): string {
  const fd = openSync(dev, 'r');
  const h = createHash('sha256');
  const buf = Buffer.alloc(MiB);
  try {
    for (let off = 0; off < n; off += MiB) {
      const got = readSync(fd, buf, 0, Math.min(MiB, n - off), off);
      h.update(buf.subarray(0, got));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** A fresh zeroed backing file, so that the image's holes read the same on the device. */
function card(dir: string, size = 32 * MiB): string {
  const f = join(dir, `card-${Math.random().toString(16).slice(2)}.img`);
  writeFileSync(f, '');
  truncateSync(f, size);
  return f;
}

function zipWith(dir: string, name: string, files: string[]): string {
  const zip = join(dir, name);
  const r = spawnSync('python3', [
    '-c',
    'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED)\nfor f in sys.argv[2:]: z.write(f, f.split("/")[-1])\nz.close()',
    zip,
    ...files,
  ]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return zip;
}

describe('flash: to a loop device (root)', function () {
  this.timeout(120_000);
  let dir: string;
  let img: string;
  let want: string;

  before(function () {
    const why = noLoopReason();
    if (why) {
      this.skip();
      return;
    }
    dir = tmpDir('hwt-flash-loop-');
    img = makeImage(join(dir, 'os.img'), SIZE, EXTENTS);
    want = sha256(img);
  });

  const XZ_TOOL = 'xz through the xz tool (as where the native decoder is not built)';
  const formats: [string, (d: string) => string][] = [
    [
      'raw with a bmap',
      (d) => (run('bmaptool', ['create', '-o', join(d, 'b.img.bmap'), copy(d, 'b.img')]), join(d, 'b.img')),
    ],
    ['raw without a bmap (sparse by SEEK_DATA)', (d) => copy(d, 'h.img')],
    ['gz', (d) => (run('gzip', ['-k', '-1', copy(d, 'g.img')]), join(d, 'g.img.gz'))],
    ['xz', (d) => (run('xz', ['-k', '-0', '-T0', copy(d, 'x.img')]), join(d, 'x.img.xz'))],
    [XZ_TOOL, (d) => (run('xz', ['-k', '-0', copy(d, 'y.img')]), join(d, 'y.img.xz'))],
    ['zst', (d) => (run('zstd', ['-q', '-k', copy(d, 'z.img')]), join(d, 'z.img.zst'))],
    ['bz2', (d) => (run('bzip2', ['-k', '-1', copy(d, 'j.img')]), join(d, 'j.img.bz2'))],
    ['zip (the first image inside)', (d) => zipWith(d, 'os.zip', [writeReadme(d), copy(d, 'inside.img')])],
  ];

  /** Another copy of the image, made sparse like the original (a plain copy may fill the holes). */
  function copy(d: string, name: string): string {
    return makeImage(join(d, name), SIZE, EXTENTS);
  }
  function writeReadme(d: string): string {
    writeFileSync(join(d, 'README.txt'), 'not an image');
    return join(d, 'README.txt');
  }

  for (const [name, make] of formats) {
    it(`writes ${name} byte-exact and verifies it`, async function () {
      const src = make(dir);
      await withLoop(card(dir), async (dev) => {
        if (name === XZ_TOOL) process.env.HW_TEST_NATIVE_XZ = '0';
        const res = await flash(src, dev, { declared: [dev] }).finally(
          () => delete process.env.HW_TEST_NATIVE_XZ,
        );
        expect(res.verified).to.equal(true);
        expect(res.direct).to.equal(true);
        expect(res.imageSize).to.equal(SIZE);
        if (name.startsWith('raw')) expect(res.bytesWritten).to.equal(6 * MiB + 4096); // only the data
        expect(res.map).to.equal(
          name === 'raw with a bmap' ? 'bmap' : name.startsWith('raw') ? 'holes' : 'full',
        );
        expect(deviceSha(dev, SIZE)).to.equal(want);
      });
    });
  }

  it('a bmap with stale per-range checksums is refused before a byte is written', async function () {
    const src = copy(dir, 'stale.img');
    run('bmaptool', ['create', '-o', `${src}.bmap`, src]);
    // The image changes after its bmap was made: one byte in the second range.
    const fd = openSync(src, 'r+');
    writeSync(fd, Buffer.from([0x5a]), 0, 1, 4 * MiB + 100);
    closeSync(fd);
    await withLoop(card(dir), async (dev) => {
      writeFileSync(dev, Buffer.alloc(MiB, 0xa5), { flag: 'r+' });
      const before = deviceSha(dev, 32 * MiB);
      const err = await flash(src, dev, { declared: [dev] }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InputError);
      expect((err as Error).message, (err as Error).message).to.match(
        /does not match its bmap: bytes 4194304-/,
      );
      expect(deviceSha(dev, 32 * MiB)).to.equal(before);
    });
  });

  describe('an image found bad while it streams: the device cannot boot what it received', function () {
    /** Flashes `src` onto a device that holds an old image (0xa5 everywhere the image reaches). */
    async function halfWritten(src: string, reason: RegExp): Promise<void> {
      await withLoop(card(dir), async (dev) => {
        writeFileSync(dev, Buffer.alloc(32 * MiB, 0xa5), { flag: 'r+' });
        const err = await flash(src, dev, { declared: [dev] }).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(InputError);
        const msg = (err as Error).message;
        expect(msg.split('\n')).to.have.length(1);
        expect(msg).to.match(reason);
        expect(msg).to.match(
          /; \/dev\/loop\d+ received part of the image: its first MiB was zeroed so that the half-written image cannot boot \(and its last MiB, where a GPT keeps its backup\)$/,
        );
        const fd = openSync(dev, 'r');
        const at = (offset: number) => {
          const b = Buffer.alloc(MiB);
          readSync(fd, b, 0, MiB, offset);
          return b.equals(Buffer.alloc(MiB));
        };
        try {
          expect(at(0), 'the first MiB is zeroed').to.equal(true);
          // Where a GPT backup header would be: the image's end, and the device's (an older, resized image).
          expect(at(SIZE - MiB), "the image's last MiB is zeroed").to.equal(true);
          expect(at(31 * MiB), "the device's last MiB is zeroed").to.equal(true);
          // And nothing else is touched: an old byte past the image is still there.
          const b = Buffer.alloc(1);
          readSync(fd, b, 0, 1, 28 * MiB);
          expect(b[0]).to.equal(0xa5);
        } finally {
          closeSync(fd);
        }
      });
    }

    it('an .xz whose check fails at the end of its block', async function () {
      const xz = join(dir, 'badcheck.img.xz');
      run('sh', ['-c', `xz -0 -T1 -c ${img} > ${xz}`]);
      const b = readFileSync(xz);
      b[b.length - 12 - (b.readUInt32LE(b.length - 8) + 1) * 4 - 8] ^= 0x40;
      writeFileSync(xz, b);
      await halfWritten(xz, /badcheck\.img\.xz: bad image: xz: compressed data is corrupt/);
    });

    it('a zip whose entry fails its CRC-32', async function () {
      const zip = join(dir, 'badcrc.zip');
      const r = spawnSync('python3', [
        '-c',
        'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED)\nz.write(sys.argv[2], "os.img")\nz.close()',
        zip,
        img,
      ]);
      expect(r.status, r.stderr.toString()).to.equal(0);
      const b = readFileSync(zip);
      b[30 + 'os.img'.length + 4 * MiB + 7] ^= 0x40;
      writeFileSync(zip, b);
      await halfWritten(zip, /badcrc\.zip: bad image: zip entry os\.img has CRC-32 /);
    });
  });

  describe('files and paths that are not what they seem (real loop devices)', function () {
    it('a file attached to a loop device is refused, naming the device; the file unchanged', async function () {
      const backing = card(dir);
      writeFileSync(backing, Buffer.alloc(MiB, 0xa5), { flag: 'r+' });
      const before = sha256(backing);
      await withLoop(backing, async (dev) => {
        const err = await flash(img, backing).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(InputError);
        expect((err as Error).message).to.equal(
          `${backing}: refusing to write: it backs ${dev} (detach it first: losetup -d ${dev})`,
        );
      });
      expect(sha256(backing)).to.equal(before);
    });

    it('a filesystem image mounted through a loop device is refused', async function () {
      if (!has('mkfs.ext4')) this.skip();
      const fsImage = card(dir);
      run('mkfs.ext4', ['-q', '-F', fsImage]);
      const mnt = tmpDir('hwt-mnt-');
      run('mount', ['-o', 'loop', fsImage, mnt]);
      try {
        const before = sha256(fsImage);
        const err = await flash(img, fsImage).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(InputError);
        expect((err as Error).message).to.match(
          /refusing to write: it backs \/dev\/loop\d+ \(detach it first/,
        );
        expect(sha256(fsImage)).to.equal(before);
      } finally {
        spawnSync('umount', [mnt]);
      }
    });

    it('a by-id symlink re-pointed between the check and the open: the opened descriptor is checked', async function () {
      const { checkTarget } = await import('../../rig/flash/safety.js');
      const { openTarget } = await import('../../rig/flash/target.js');
      await withLoop(card(dir), async (checked) => {
        await withLoop(card(dir), async (other) => {
          writeFileSync(other, Buffer.alloc(MiB, 0xa5), { flag: 'r+' });
          const before = deviceSha(other, 32 * MiB);
          const link = join(dir, `by-id-${Math.random().toString(16).slice(2)}`);
          symlinkSync(checked, link);
          const info = await checkTarget(link, SIZE, [link]);
          // The race: after the checks, before the open, the link now names another device.
          rmSync(link);
          symlinkSync(other, link);
          const err = await openTarget(info, SIZE).catch((e: unknown) => e);
          expect(err).to.be.instanceOf(InputError);
          expect((err as Error).message).to.equal(
            `${link}: refusing to write: it is no longer the device that was checked (${checked}); it changed between the check and the open`,
          );
          expect(deviceSha(other, 32 * MiB)).to.equal(before);
        });
      });
    });
  });

  describe('refusals write nothing (the device is checksummed before and after)', function () {
    async function refused(
      src: string,
      setup: (dev: string) => void,
      opts: (dev: string) => { declared?: string[] },
      reason: RegExp,
      cleanup: (dev: string) => void = () => {},
      size = 32 * MiB,
    ): Promise<void> {
      await withLoop(card(dir, size), async (dev) => {
        // Something on the device, so an accidental write would show.
        writeFileSync(dev, Buffer.alloc(MiB, 0xa5), { flag: 'r+' });
        setup(dev);
        try {
          const before = deviceSha(dev, size);
          const err = await flash(src, dev, opts(dev)).catch((e: unknown) => e);
          expect(err, 'the flash should be refused').to.be.instanceOf(InputError);
          const msg = (err as Error).message;
          expect(msg.split('\n')).to.have.length(1);
          expect(msg).to.match(reason);
          expect(deviceSha(dev, size)).to.equal(before);
        } finally {
          cleanup(dev);
        }
      });
    }

    it('a mounted device', async function () {
      if (!has('mkfs.ext4')) this.skip();
      const mnt = tmpDir('hwt-mnt-');
      await refused(
        img,
        (dev) => {
          run('mkfs.ext4', ['-q', '-F', dev]);
          run('mount', [dev, mnt]);
        },
        (dev) => ({ declared: [dev] }),
        /^\/dev\/loop\d+: refusing to write: \/dev\/loop\d+ is mounted at .*hwt-mnt-/,
        () => spawnSync('umount', [mnt]),
      );
    });

    it('a device in use as swap', async function () {
      if (!has('mkswap') || !has('swapon')) this.skip();
      await refused(
        img,
        (dev) => {
          run('mkswap', [dev]);
          const r = spawnSync('swapon', [dev]);
          if (r.status !== 0) this.skip(); // swap not allowed in this container
        },
        (dev) => ({ declared: [dev] }),
        /refusing to write: \/dev\/loop\d+ is in use as swap/,
        (dev) => spawnSync('swapoff', [dev]),
      );
    });

    it('a device that is not removable and not declared', async function () {
      await refused(
        img,
        () => {},
        () => ({}),
        /refusing to write: \/dev\/loop\d+ is not removable and the lab file does not declare it/,
      );
    });

    it('a device smaller than the image', async function () {
      await refused(
        img,
        () => {},
        (dev) => ({ declared: [dev] }),
        /refusing to write: \/dev\/loop\d+ holds 16777216 bytes, smaller than the image \(25165824 bytes\)/,
        () => {},
        16 * MiB,
      );
    });

    it('a truncated xz', async function () {
      const xz = join(dir, 'cut.img.xz');
      const full = spawnSync('xz', ['-0', '-c', img]).stdout;
      writeFileSync(xz, full.subarray(0, full.length >> 1));
      await refused(
        xz,
        () => {},
        (dev) => ({ declared: [dev] }),
        /cut\.img\.xz: bad image: xz cannot read it/,
      );
    });

    it('a truncated zst', async function () {
      const zst = join(dir, 'cut.img.zst');
      const full = spawnSync('zstd', ['-q', '-c', img]).stdout;
      writeFileSync(zst, full.subarray(0, full.length >> 1));
      await refused(
        zst,
        () => {},
        (dev) => ({ declared: [dev] }),
        /cut\.img\.zst: bad image: zstd cannot read it/,
      );
    });

    it('a zip with no image in it', async function () {
      const zip = zipWith(dir, 'docs.zip', [writeReadme(dir)]);
      await refused(
        zip,
        () => {},
        (dev) => ({ declared: [dev] }),
        /docs\.zip: the zip holds no disk image/,
      );
    });

    it('a corrupt bmap', async function () {
      const src = copy(dir, 'corrupt.img');
      run('bmaptool', ['create', '-o', `${src}.bmap`, src]);
      const xml = readFileSync(`${src}.bmap`, 'utf8');
      writeFileSync(
        `${src}.bmap`,
        xml.replace(/> 0-(\d+) </, (_m, n: string) => `> 0-${Number(n) + 1} <`),
      );
      await refused(
        src,
        () => {},
        (dev) => ({ declared: [dev] }),
        /corrupt\.img\.bmap: corrupt bmap/,
      );
    });
  });
});
