import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../rig/errors.js';
import { bmapCandidates } from '../../rig/flash/bmap.js';
import { detectFormat, formatOf } from '../../rig/flash/format.js';
import { alignRanges } from '../../rig/flash/holes.js';
import { tmpDir } from './flash-helpers.js';

describe('flash: image format from magic bytes', function () {
  it('recognises each compressed format and takes anything else as raw', function () {
    expect(formatOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]))).to.equal('xz');
    expect(formatOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).to.equal('zst');
    expect(formatOf(Buffer.from([0x1f, 0x8b, 8]))).to.equal('gz');
    expect(formatOf(Buffer.from('BZh9'))).to.equal('bz2');
    expect(formatOf(Buffer.from([0x50, 0x4b, 0x03, 0x04]))).to.equal('zip');
    expect(formatOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58]))).to.equal('raw'); // xz magic cut short
    expect(formatOf(Buffer.alloc(512))).to.equal('raw');
  });

  it('goes by content, not by the name', async function () {
    const dir = tmpDir();
    const lying = join(dir, 'image.img.xz');
    writeFileSync(lying, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]));
    expect(await detectFormat(lying)).to.equal('zst');
  });

  it('refuses an empty or missing image with its name', async function () {
    const dir = tmpDir();
    writeFileSync(join(dir, 'empty.img'), '');
    const e1 = await detectFormat(join(dir, 'empty.img')).catch((e: unknown) => e);
    expect(e1)
      .to.be.instanceOf(InputError)
      .with.property('message')
      .that.matches(/empty\.img: the image is empty/);
    const e2 = await detectFormat(join(dir, 'nope.img')).catch((e: unknown) => e);
    expect(e2)
      .to.be.instanceOf(InputError)
      .with.property('message')
      .that.matches(/nope\.img: cannot open/);
  });
});

describe('flash: bmap next to the image', function () {
  it('strips compression suffixes: img.img.xz -> img.img.bmap, img.bmap, img.img.xz.bmap', function () {
    expect(bmapCandidates('/x/os.img.xz')).to.deep.equal([
      '/x/os.img.bmap',
      '/x/os.bmap',
      '/x/os.img.xz.bmap',
    ]);
    expect(bmapCandidates('/x/os.img')).to.deep.equal(['/x/os.img.bmap', '/x/os.bmap']);
  });
});

describe('flash: data ranges from SEEK_DATA', function () {
  it('rounds ranges out to the alignment and merges those that touch', function () {
    const r = alignRanges(
      [
        { start: 100, end: 200 },
        { start: 4000, end: 5000 },
        { start: 20000, end: 20001 },
      ],
      20001,
      4096,
    );
    expect(r).to.deep.equal([
      { start: 0, end: 8192 },
      { start: 16384, end: 20001 },
    ]);
  });
});
