import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../rig/errors.js';
import { nativeZstd, zstdChunks } from '../../rig/flash/zstd.js';
import { decompressorImage, digestChunks, MiB, run, tmpDir } from './flash-helpers.js';

function digest(path: string): Promise<{ sha: string; n: number }> {
  const DCtx = nativeZstd();
  if (!DCtx) throw new Error('zstd-napi is not built: run npm ci (it compiles libzstd)');
  return digestChunks(zstdChunks(DCtx, path));
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('flash: zstd decompressed in process', function () {
  this.timeout(30_000);
  let dir: string;
  let img: string;

  before(function () {
    dir = tmpDir('hwt-zstd-');
    img = decompressorImage(dir);
    run('zstd', ['-q', '-k', '-f', img]);
  });

  it('gives the same bytes as the zstd tool', async function () {
    const got = await digest(`${img}.zst`);
    expect(got.n).to.equal(24 * MiB);
    expect(got.sha).to.equal(sha(readFileSync(img)));
  });

  it('reads concatenated frames and skippable frames, as the zstd tool does', async function () {
    const a = readFileSync(`${img}.zst`);
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a50, 0);
    skippable.writeUInt32LE(5, 4);
    const both = join(dir, 'two.img.zst');
    writeFileSync(both, Buffer.concat([a, skippable, a]));
    const got = await digest(both);
    const want = run('sh', ['-c', `zstd -dc -q ${both} | sha256sum`]).split(' ')[0];
    expect(got.n).to.equal(48 * MiB);
    expect(got.sha).to.equal(want);
  });

  it('a file cut in the middle of a frame is a bad image, not a short one', async function () {
    const z = readFileSync(`${img}.zst`);
    const cut = join(dir, 'cut.img.zst');
    writeFileSync(cut, z.subarray(0, z.length - 1000));
    const err = await digest(cut).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(
      /cut\.img\.zst: bad image: the zstd data ends in the middle of a frame/,
    );
  });

  it('corrupt data is a bad image naming zstd and the offset reached', async function () {
    const z = Buffer.from(readFileSync(`${img}.zst`));
    // Inside the second data extent's compressed bytes: the frame's checksum (or a block) fails.
    z[Math.floor(z.length * 0.6)] ^= 0x40;
    const bad = join(dir, 'bad.img.zst');
    writeFileSync(bad, z);
    const err = await digest(bad).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(/bad\.img\.zst: bad image: zstd: .+ \(decompressed offset \d+\)/);
  });
});
