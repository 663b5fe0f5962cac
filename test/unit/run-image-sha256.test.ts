import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../rig/errors.js';
import { buildSummary } from '../../rig/runner/finish.js';
import type { RunBase } from '../../rig/runner/context.js';
import { sourceToRaw } from '../../rig/runner/flash-step.js';
import * as run from '../../rig/cli/run.js';
import type { CliIo } from '../../rig/cli/io.js';
import { MisbehavingServer } from '../helpers/http-server.js';
import { MiB, pattern, tmpDir } from './flash-helpers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const IMAGE = pattern(MiB, 3);
const OTHER = '0'.repeat(64);

async function refusal(p: Promise<unknown>): Promise<InputError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a refusal').to.be.instanceOf(InputError);
  expect((err as Error).message.split('\n')).to.have.length(1);
  return err as InputError;
}

describe('a run checks --image-sha256 and records which bytes it flashed', function () {
  this.timeout(30_000);
  const signal = new AbortController().signal;

  it('a local image whose sha256 differs is refused before the work copy is written, naming the option', async () => {
    const dir = tmpDir('hwt-sha-');
    const image = join(dir, 'os.img');
    writeFileSync(image, IMAGE);
    const dest = join(dir, 'work.img');
    const err = await refusal(sourceToRaw(image, dest, { signal, imageSha256: OTHER }));
    expect(err.message).to.equal(`${image}: its sha256 is ${sha(IMAGE)}, expected ${OTHER} (--image-sha256)`);
    expect(existsSync(dest), 'no work copy').to.equal(false);
    const ok = await sourceToRaw(image, dest, { signal, imageSha256: sha(IMAGE).toUpperCase() });
    expect(ok).to.include({ sha256: sha(IMAGE) });
    expect(ok.fromCache).to.equal(undefined);
  });

  it('an image URL: the sha256 of the bytes downloaded, and whether they came from the cache', async () => {
    const srv = await new MisbehavingServer().start();
    try {
      const dir = tmpDir('hwt-sha-');
      const cacheDir = join(dir, 'downloads');
      srv.publish('/os.img', IMAGE);
      const url = srv.url('/os.img');
      const first = await sourceToRaw(url, join(dir, 'a.img'), { signal, cacheDir });
      expect(first).to.include({ sha256: sha(IMAGE), fromCache: false });
      const second = await sourceToRaw(url, join(dir, 'b.img'), {
        signal,
        cacheDir,
        imageSha256: sha(IMAGE),
      });
      expect(second).to.include({ sha256: sha(IMAGE), fromCache: true });
      const err = await refusal(
        sourceToRaw(url, join(dir, 'c.img'), { signal, cacheDir, imageSha256: OTHER }),
      );
      expect(err.message).to.match(/its sha256 is [0-9a-f]{64}, expected 0{64} \(--image-sha256\)/);
      expect(existsSync(join(dir, 'c.img'))).to.equal(false);
    } finally {
      await srv.close();
    }
  });

  it('summary.json says image.sha256 and image.fromCache', () => {
    const base = {
      board: { name: 'b', type: { name: 't' } },
      opts: { signal, suites: ['boot'], image: 'http://x/os.img', reproduce: 'r' },
      suites: [{ name: 'boot' }],
      facts: {
        tests: [],
        quarantined: false,
        image: { source: 'http://x/os.img', sha256: sha(IMAGE), fromCache: true, sizeBytes: MiB },
      },
    } as unknown as RunBase;
    const s = buildSummary(base, { runId: 'r1', started: new Date(), steps: [], runError: undefined });
    expect(s.image).to.deep.include({ path: 'http://x/os.img', sha256: sha(IMAGE), fromCache: true });
  });

  it('a malformed --image-sha256 is bad input before any board is touched', async () => {
    const lines: string[] = [];
    const io: CliIo = {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      interactive: false,
      env: { ...process.env, HW_TEST_LAB: '' },
      signal,
    };
    const err = await refusal(
      run.command.main(['--board', 'qemu-x86-64', '--image-sha256', 'abc', '--reports', tmpDir()], io),
    );
    expect(err.message).to.equal(
      '--image-sha256 abc: expected 64 hexadecimal digits (the output of sha256sum)',
    );
    expect(lines).to.deep.equal([]);
    expect(run.reproduceCommand({ 'image-sha256': sha(IMAGE) }, 'b')).to.include(
      `--image-sha256 ${sha(IMAGE)}`,
    );
  });
});
