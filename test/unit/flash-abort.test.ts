import { expect } from 'chai';
import { join } from 'node:path';
import { InterruptedError } from '../../rig/errors.js';
import { flash } from '../../rig/flash/index.js';
import { makeImage, MiB, run, tmpDir } from './flash-helpers.js';

describe('flash: cancellation', function () {
  this.timeout(30_000);

  for (const compressed of [false, true]) {
    it(`stops on abort with an interruption, not a bad-image error (${compressed ? 'xz stream' : 'raw'})`, async function () {
      const dir = tmpDir();
      const img = makeImage(join(dir, 'os.img'), 64 * MiB, [[0, 16 * MiB]]);
      if (compressed) run('xz', ['-0', '-T0', '-k', img]);
      const ctl = new AbortController();
      let events = 0;
      const err = await flash(compressed ? `${img}.xz` : img, join(dir, 'card.img'), {
        signal: ctl.signal,
        onProgress: () => {
          events++;
          ctl.abort(new Error('SIGINT'));
        },
      }).catch((e: unknown) => e);
      // At the latest, the write phase's final event aborts the verify.
      expect(events).to.be.at.least(1);
      expect(err).to.be.instanceOf(InterruptedError);
    });
  }
});
