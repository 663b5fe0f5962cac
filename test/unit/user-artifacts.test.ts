import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '../../rig/errors.js';
import { mask } from '../../rig/log.js';
import { resolveUserArtifact } from '../../rig/runner/user-artifacts.js';
import { registerUrlSecrets } from '../../rig/log.js';

const BUNDLE = randomBytes(256 * 1024);
const SHA = createHash('sha256').update(BUNDLE).digest('hex');

/** Serves the bundle, and its .sha256 as `sums` says (404 when undefined). */
function server(sums: string | undefined) {
  const srv = http.createServer((req, res) => {
    if (req.url?.endsWith('.raucb')) {
      res.writeHead(200, { 'content-length': BUNDLE.length });
      res.end(BUNDLE);
    } else if (req.url?.endsWith('.raucb.sha256') && sums !== undefined) {
      res.end(`${sums}  update.raucb\n`);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise<{ url: string; close: () => Promise<void> }>((resolve) =>
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/builds/42/update.raucb`,
        close: () => new Promise((r) => srv.close(() => r())),
      });
    }),
  );
}

describe("the run's own update bundles (--update-bundle FILE|URL)", function () {
  const dir = () => mkdtempSync(path.join(tmpdir(), 'hwt-artifacts-'));

  it('takes a file as it is, and refuses one that does not match the .sha256 beside it', async function () {
    const d = dir();
    const file = path.join(d, 'update.raucb');
    writeFileSync(file, BUNDLE);
    expect(await resolveUserArtifact('update-bundle', file)).to.equal(file);
    writeFileSync(`${file}.sha256`, `${SHA}  update.raucb\n`);
    expect(await resolveUserArtifact('update-bundle', file)).to.equal(file);
    writeFileSync(`${file}.sha256`, `${'0'.repeat(64)}  update.raucb\n`);
    const err = await resolveUserArtifact('update-bundle', file).catch((e: Error) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.contain(
      `--update-bundle ${file}: sha256 is ${SHA}, but ${file}.sha256 says 000`,
    );
    const missing = await resolveUserArtifact('update-bundle-unhealthy', path.join(d, 'nope')).catch(
      (e: Error) => e,
    );
    expect((missing as Error).message).to.match(/^--update-bundle-unhealthy \S+nope: no such file$/);
  });

  it('downloads a URL into the cache, enforcing the .sha256 the server publishes beside it', async function () {
    const s = await server(SHA);
    try {
      const cacheDir = dir();
      const got = await resolveUserArtifact('update-bundle', s.url, { cacheDir });
      expect(readFileSync(got).equals(BUNDLE)).to.equal(true);
      // Left beside the copy: the suite reads it and hands it to the board's update command.
      expect(readFileSync(`${got}.sha256`, 'utf8').trim()).to.equal(SHA);
      expect(await resolveUserArtifact('update-bundle', s.url, { cacheDir })).to.equal(got);
    } finally {
      await s.close();
    }
  });

  it('refuses a download that does not match its published checksum, and takes one with none', async function () {
    const bad = await server('f'.repeat(64));
    try {
      const err = await resolveUserArtifact('update-bundle', bad.url, { cacheDir: dir() }).catch(
        (e: Error) => e,
      );
      expect(err).to.be.instanceOf(InputError);
      expect((err as Error).message).to.contain(`sha256 is ${SHA}, expected ${'f'.repeat(64)}`);
    } finally {
      await bad.close();
    }
    const none = await server(undefined);
    try {
      const got = await resolveUserArtifact('update-bundle', none.url, { cacheDir: dir() });
      expect(readFileSync(got).equals(BUNDLE)).to.equal(true);
      // No published checksum: the copy's own, so that the board still checks what it received.
      expect(readFileSync(`${got}.sha256`, 'utf8').trim()).to.equal(SHA);
    } finally {
      await none.close();
    }
  });

  it('masks the credentials of a bundle URL in everything reported', function () {
    registerUrlSecrets('https://ci:s3cr3t-token@builds.example/42/update.raucb');
    expect(mask('--update-bundle https://ci:s3cr3t-token@builds.example/42/update.raucb')).to.not.contain(
      's3cr3t-token',
    );
  });
});
