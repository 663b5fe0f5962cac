import { expect } from 'chai';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../rig/errors.js';
import { nativeXz, xzChunks } from '../../rig/flash/xz.js';
import { decompressorImage, digestChunks, MiB, run, tmpDir } from './flash-helpers.js';

function binding() {
  const x = nativeXz();
  if (!x)
    throw new Error(
      'the native xz decoder is not built: npm run setup (gcc, liblzma-dev), then npm run build',
    );
  return x;
}

const digest = (path: string, stopAfter?: number) => digestChunks(xzChunks(binding(), path), stopAfter);

const toolSha = (path: string) => run('sh', ['-c', `xz -dc ${path} | sha256sum`]).split(' ')[0];

describe('flash: xz decompressed in process (liblzma, multithreaded)', function () {
  this.timeout(30_000);
  let dir: string;
  let img: string;

  before(function () {
    dir = tmpDir('hwt-xz-');
    img = decompressorImage(dir);
    // Many blocks (what xz -T0 writes, decoded in parallel) and one block (plain xz: one thread).
    run('sh', ['-c', `xz -0 -T2 --block-size=1MiB -c ${img} > ${img}.blocks.xz`]);
    run('sh', ['-c', `xz -0 -T1 -c ${img} > ${img}.one.xz`]);
  });

  for (const kind of ['blocks', 'one']) {
    it(`gives the same bytes as the xz tool (${kind === 'one' ? 'one block' : '1 MiB blocks'})`, async function () {
      const got = await digest(`${img}.${kind}.xz`);
      expect(got.n).to.equal(24 * MiB);
      expect(got.sha).to.equal(createHash('sha256').update(readFileSync(img)).digest('hex'));
    });
  }

  it('reads concatenated streams with stream padding between them, as xz -d does', async function () {
    const a = readFileSync(`${img}.blocks.xz`);
    const b = readFileSync(`${img}.one.xz`);
    const both = join(dir, 'two.img.xz');
    writeFileSync(both, Buffer.concat([a, Buffer.alloc(8), b]));
    const got = await digest(both);
    expect(got.n).to.equal(48 * MiB);
    expect(got.sha).to.equal(toolSha(both));
  });

  it('a file cut short is a bad image, not a short one', async function () {
    const z = readFileSync(`${img}.blocks.xz`);
    const cut = join(dir, 'cut.img.xz');
    writeFileSync(cut, z.subarray(0, z.length - 1000));
    const err = await digest(cut).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(/cut\.img\.xz: bad image: xz: .+ \(decompressed offset \d+\)/);
  });

  it('corrupt data is a bad image naming xz and the offset reached', async function () {
    const z = Buffer.from(readFileSync(`${img}.one.xz`));
    z[Math.floor(z.length * 0.6)] ^= 0x40;
    const bad = join(dir, 'bad.img.xz');
    writeFileSync(bad, z);
    const err = await digest(bad).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(
      /bad\.img\.xz: bad image: xz: compressed data is corrupt \(decompressed offset \d+\)/,
    );
    // Stored (incompressible) chunks are caught by the block's CRC64 at its end, so up to the end.
    expect((err as InputError).context.offset)
      .to.be.a('number')
      .at.most(24 * MiB);
  });

  it('something else behind the extension is not taken for xz', async function () {
    const fake = join(dir, 'fake.img.xz');
    writeFileSync(fake, Buffer.alloc(4096, 0x41));
    const err = await digest(fake).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(/fake\.img\.xz: bad image: xz: not in the \.xz format/);
  });

  it('runs inside an AsyncLocalStorage context and keeps it (allure-mocha, the runner)', async function () {
    // async_hooks tags each native job's resource object: once that crashed the process.
    const als = new AsyncLocalStorage<string>();
    const got = await als.run('run-1', async () => {
      const d = await digest(`${img}.blocks.xz`);
      return { ...d, store: als.getStore() };
    });
    expect(got.n).to.equal(24 * MiB);
    expect(got.store).to.equal('run-1');
  });

  it('a reader that stops early leaves a decoder that can be used again', async function () {
    const first = await digest(`${img}.blocks.xz`, 1);
    expect(first.n).to.equal(4 * MiB);
    const again = await digest(`${img}.blocks.xz`);
    expect(again.n).to.equal(24 * MiB);
  });
});
