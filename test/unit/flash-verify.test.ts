import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from '../../rig/errors.js';
import { flash, REAL_DEPS, type FlashDeps } from '../../rig/flash/index.js';
import { openTarget, withRetries, type Target } from '../../rig/flash/target.js';
import { makeImage, MiB, run, tmpDir, withWrite } from './flash-helpers.js';

/** A destination that flips one bit of what it is asked to write at `offset`: a bad card, a bad cable. */
function flipping(at: number): FlashDeps {
  return {
    ...REAL_DEPS,
    async openTarget(info, size): Promise<Target> {
      const t = await openTarget(info, size);
      return withWrite(t, (real) => (buf, length, position) => {
        if (at >= position && at < position + length) {
          const copy = Buffer.from(buf.subarray(0, length));
          copy[at - position] ^= 0x10;
          return real(copy, length, position);
        }
        return real(buf, length, position);
      });
    },
  };
}

describe('flash: read-back verify', function () {
  const extents: [number, number][] = [
    [0, MiB],
    [5 * MiB, 3 * MiB + 4096],
  ];

  it('names the first bad offset when the destination flips a bit (sparse image, holes)', async function () {
    const dir = tmpDir();
    const img = makeImage(join(dir, 'os.img'), 16 * MiB, extents);
    const bad = 5 * MiB + 2 * MiB + 12345;
    const err = await flash(img, join(dir, 'card.img'), {}, flipping(bad)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InfraError);
    expect((err as InfraError).message).to.equal(
      `${join(dir, 'card.img')}: verify failed: the device differs from the image at offset ${bad} (0x${bad.toString(16)})`,
    );
    expect((err as InfraError).context.offset).to.equal(bad);
  });

  it('names it for a compressed image too (the source is decompressed again to find the byte)', async function () {
    const dir = tmpDir();
    const img = makeImage(join(dir, 'os.img'), 16 * MiB, extents);
    run('xz', ['-k', '-0', '-T0', img]);
    const bad = 9 * MiB + 7;
    // Only the mapped data is read back, so flip a byte inside the second extent of the full map.
    const err = await flash(`${img}.xz`, join(dir, 'card.img'), {}, flipping(bad)).catch((e: unknown) => e);
    expect((err as InfraError).message).to.match(new RegExp(`differs from the image at offset ${bad} `));
  });

  it('passes the same bad write without verify (so the check above is what catches it)', async function () {
    const dir = tmpDir();
    const img = makeImage(join(dir, 'os.img'), 16 * MiB, extents);
    const res = await flash(img, join(dir, 'card.img'), { verify: false }, flipping(12));
    expect(res.verified).to.equal(false);
    expect(readFileSync(join(dir, 'card.img'))[12]).to.not.equal(readFileSync(img)[12]);
  });

  it('writes a file destination byte-exact, sparse by its holes, and verifies', async function () {
    const dir = tmpDir();
    const img = makeImage(join(dir, 'os.img'), 16 * MiB, extents);
    const res = await flash(img, join(dir, 'card.img'));
    expect(readFileSync(join(dir, 'card.img')).equals(readFileSync(img))).to.equal(true);
    expect(res).to.include({
      map: 'holes',
      verified: true,
      bytesWritten: 4 * MiB + 4096,
      imageSize: 16 * MiB,
    });
  });
});

describe('flash: I/O retries', function () {
  const errno = (code: string) => Object.assign(new Error(code), { code });

  it('retries a transient EIO and goes on', async function () {
    let calls = 0;
    const v = await withRetries('/dev/sdz', 'write', 4096, () => {
      calls++;
      return calls < 3 ? Promise.reject(errno('EIO')) : Promise.resolve('ok');
    });
    expect(v).to.equal('ok');
    expect(calls).to.equal(3);
  });

  it('gives up after a bounded number of tries, as an infra error naming the device and offset', async function () {
    let calls = 0;
    const err = await withRetries('/dev/sdz', 'write', 8192, () => {
      calls++;
      return Promise.reject(errno('EBUSY'));
    }).catch((e: unknown) => e);
    expect(calls).to.equal(5);
    expect(err).to.be.instanceOf(InfraError);
    expect((err as Error).message).to.equal('/dev/sdz: EBUSY trying to write at offset 8192 (5 tries)');
  });

  it('does not retry a device that is gone', async function () {
    let calls = 0;
    const err = await withRetries('/dev/sdz', 'write', 0, () => {
      calls++;
      return Promise.reject(errno('ENODEV'));
    }).catch((e: unknown) => e);
    expect(calls).to.equal(1);
    expect((err as Error).message).to.equal(
      '/dev/sdz: the device is gone (ENODEV while trying to write at offset 0)',
    );
  });
});
