import { expect } from 'chai';
import { join } from 'node:path';
import { InterruptedError } from '../../rig/errors.js';
import { flash } from '../../rig/flash/index.js';
import { makeImage, MiB, run, tmpDir } from './flash-helpers.js';

describe('flash: cancellation', function () {
  this.timeout(30_000);

  const kinds: [string, (img: string) => string][] = [
    ['raw', (img) => img],
    ['xz decompressed in process', (img) => (run('xz', ['-0', '-T0', '-k', img]), `${img}.xz`)],
    ['xz stream from a child', (img) => (run('xz', ['-0', '-T0', '-k', img]), `${img}.xz`)],
    ['zst decompressed in process', (img) => (run('zstd', ['-q', '-k', img]), `${img}.zst`)],
  ];
  for (const [kind, make] of kinds) {
    it(`stops on abort with an interruption, not a bad-image error (${kind})`, async function () {
      const dir = tmpDir();
      const img = makeImage(join(dir, 'os.img'), 64 * MiB, [[0, 16 * MiB]]);
      const ctl = new AbortController();
      let events = 0;
      if (kind.endsWith('from a child')) process.env.HW_TEST_NATIVE_XZ = '0';
      const err = await flash(make(img), join(dir, 'card.img'), {
        signal: ctl.signal,
        onProgress: () => {
          events++;
          ctl.abort(new Error('SIGINT'));
        },
      })
        .catch((e: unknown) => e)
        .finally(() => delete process.env.HW_TEST_NATIVE_XZ);
      // At the latest, the write phase's final event aborts the verify.
      expect(events).to.be.at.least(1);
      expect(err).to.be.instanceOf(InterruptedError);
    });
  }
});
