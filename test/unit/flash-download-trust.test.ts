import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { InfraError, InputError } from '../../rig/errors.js';
import { BACKOFF_MS, download } from '../../rig/flash/download.js';
import { flash } from '../../rig/flash/index.js';
import { MisbehavingServer } from '../helpers/http-server.js';
import { makeImage, MiB, pattern, run, tmpDir } from './flash-helpers.js';

const CLI = join(import.meta.dirname, '../../rig/cli/main.js');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const V1 = pattern(MiB, 1);
const V2 = pattern(MiB, 2);

async function refused(p: Promise<unknown>, cls: typeof InputError | typeof InfraError = InputError) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a refusal').to.be.instanceOf(cls);
  expect((err as Error).message.split('\n')).to.have.length(1);
  return err as InputError;
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('flash: downloads are revalidated, checked, and their errors classed', function () {
  this.timeout(30_000);
  let srv: MisbehavingServer;
  let cacheDir: string;

  beforeEach(async function () {
    srv = await new MisbehavingServer().start();
    cacheDir = tmpDir('hwt-dl-');
  });
  afterEach(() => srv.close());

  it('a new build published at the same URL is downloaded, not the cached old one (ETag)', async function () {
    srv.publish('/os.img', V1);
    const a = await download(srv.url('/os.img'), { cacheDir });
    expect(a).to.include({ sha256: sha(V1), cached: false });
    // Unchanged: a conditional GET, answered 304, no body sent; the cached file is used.
    const b = await download(srv.url('/os.img'), { cacheDir });
    expect(b).to.include({ sha256: sha(V1), cached: true });
    const img = () => srv.requestsFor('/os.img');
    expect(img()[1].ifNoneMatch).to.be.a('string');
    expect(img()[1].status).to.equal(304);
    expect(img()[1].sent).to.equal(0);
    srv.publish('/os.img', V2);
    const c = await download(srv.url('/os.img'), { cacheDir });
    expect(c).to.include({ sha256: sha(V2), cached: false });
    expect(readFileSync(c.path).equals(V2)).to.equal(true);
  });

  it('revalidates by Last-Modified when the server has no ETag', async function () {
    srv.publish('/os.img', V1, { etag: false, lastModified: new Date('2026-01-01T00:00:00Z') });
    await download(srv.url('/os.img'), { cacheDir });
    const b = await download(srv.url('/os.img'), { cacheDir });
    expect(b.cached).to.equal(true);
    expect(srv.requestsFor('/os.img')[1].ifModifiedSince).to.equal('Thu, 01 Jan 2026 00:00:00 GMT');
    srv.publish('/os.img', V2, { etag: false, lastModified: new Date('2026-02-01T00:00:00Z') });
    expect((await download(srv.url('/os.img'), { cacheDir })).sha256).to.equal(sha(V2));
  });

  it('a server without validators: downloaded again every time', async function () {
    srv.publish('/os.img', V1, { etag: false });
    await download(srv.url('/os.img'), { cacheDir });
    srv.publish('/os.img', V2, { etag: false });
    const b = await download(srv.url('/os.img'), { cacheDir });
    expect(b).to.include({ sha256: sha(V2), cached: false });
    const second = srv.requestsFor('/os.img')[1];
    expect(second.ifNoneMatch).to.equal(undefined);
    expect(second.ifModifiedSince).to.equal(undefined);
    expect(second.sent).to.equal(MiB);
  });

  it('a cached file that no longer matches its recorded sha256 is discarded and downloaded again', async function () {
    srv.publish('/os.img', V1);
    const a = await download(srv.url('/os.img'), { cacheDir });
    const bad = readFileSync(a.path);
    bad[1000] ^= 1;
    writeFileSync(a.path, bad);
    const b = await download(srv.url('/os.img'), { cacheDir });
    expect(b).to.include({ sha256: sha(V1), cached: false });
    expect(readFileSync(b.path).equals(V1)).to.equal(true);
  });

  it('--image-sha256: content that differs is refused and not kept', async function () {
    srv.publish('/os.img', V1);
    const err = await refused(download(srv.url('/os.img'), { cacheDir, sha256: 'a'.repeat(64) }));
    expect(err.message).to.equal(
      `${srv.url('/os.img')}: its sha256 is ${sha(V1)}, expected ${'a'.repeat(64)} (--image-sha256)`,
    );
    expect(readdirSync(cacheDir)).to.deep.equal([]);
    // A cached copy that differs from the one asked for is not used either.
    await download(srv.url('/os.img'), { cacheDir });
    await refused(download(srv.url('/os.img'), { cacheDir, sha256: 'b'.repeat(64) }));
  });

  it('a URL.sha256 published beside the image is checked', async function () {
    srv.publish('/os.img', V1);
    srv.publish('/os.img.sha256', Buffer.from(`${sha(V2)}  os.img\n`));
    const err = await refused(download(srv.url('/os.img'), { cacheDir }));
    expect(err.message).to.include(`expected ${sha(V2)} (${srv.url('/os.img.sha256')})`);
    srv.publish('/os.img.sha256', Buffer.from(`${sha(V1)}  os.img\n`));
    expect((await download(srv.url('/os.img'), { cacheDir })).sha256).to.equal(sha(V1));
  });

  for (const status of [404, 403, 401, 410]) {
    it(`HTTP ${status} is bad input (exit 2), not the rig's fault`, async function () {
      srv.status.set('/os.img', status);
      const err = await refused(download(srv.url('/os.img'), { cacheDir }));
      expect(err.message).to.match(new RegExp(`/os\\.img: HTTP ${status}\\b.*check the URL`));
      expect(srv.requestsFor('/os.img')).to.have.length(1);
    });
  }

  it('a refused connection and an unknown host are bad input at once (no retries)', async function () {
    const port = await closedPort();
    const t0 = Date.now();
    const a = await refused(download(`http://127.0.0.1:${port}/os.img`, { cacheDir }));
    expect(a.message).to.match(/cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    const b = await refused(download('http://hwt-no-such-host.invalid/os.img', { cacheDir }));
    expect(b.message).to.match(/cannot reach hwt-no-such-host\.invalid \((ENOTFOUND|EAI_AGAIN)\)/);
    expect(Date.now() - t0).to.be.below(5000);
  });

  it('a transfer that drops is retried with exponential back-off and resumed with Range', async function () {
    srv.publish('/os.img', V1);
    srv.drops = 3;
    const waits: number[] = [];
    const got = await download(srv.url('/os.img'), {
      cacheDir,
      backoffMs: 20,
      onRetry: (_n, ms) => waits.push(ms),
    });
    expect(got.sha256).to.equal(sha(V1));
    expect(waits).to.deep.equal([20, 40, 80]);
    const resumed = srv.requestsFor('/os.img').slice(1);
    expect(resumed).to.have.length(3);
    expect(resumed.every((r) => /^bytes=[1-9]\d*-$/.test(r.range ?? ''))).to.equal(true);
    // The resumed requests ask that the range come from the same content.
    expect(resumed[0].ifRange).to.be.a('string');
    // The default back-off is seconds, not the 0.6 s for five tries it was.
    expect(BACKOFF_MS).to.be.at.least(1000);
  });

  it('a transfer that keeps dropping ends as a rig fault that does not count against a board', async function () {
    srv.publish('/os.img', V1);
    srv.drops = 10;
    const err = await refused(
      download(srv.url('/os.img'), { cacheDir, attempts: 3, backoffMs: 1 }),
      InfraError,
    );
    expect(err.message).to.match(/kept dropping/);
    expect(err.context.boardFault).to.equal(false);
  });

  it('a cached image that cannot be decompressed is discarded, and the next flash downloads it again', async function () {
    const dir = tmpDir();
    const img = makeImage(join(dir, 'os.img'), 4 * MiB, [[0, 2 * MiB]]);
    run('sh', ['-c', `xz -0 -T1 -c ${img} > ${img}.xz`]);
    const good = readFileSync(`${img}.xz`);
    const bad = Buffer.from(good);
    bad[bad.length >> 1] ^= 0x55;
    srv.publish('/os.img.xz', bad);
    await refused(flash(srv.url('/os.img.xz'), join(dir, 'card.img'), { cacheDir }));
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('os.img.xz'))).to.deep.equal([]);
    srv.publish('/os.img.xz', good);
    const res = await flash(srv.url('/os.img.xz'), join(dir, 'card.img'), { cacheDir });
    expect(res).to.include({ sha256: sha(good), fromCache: false, verified: true });
    const again = await flash(srv.url('/os.img.xz'), join(dir, 'card.img'), { cacheDir });
    expect(again).to.include({ sha256: sha(good), fromCache: true });
  });

  it('the CLI: a refused host is exit 2 and one line; --image-sha256 is checked', async function () {
    const dir = tmpDir();
    const env = { ...process.env, CI: 'true', XDG_CACHE_HOME: join(dir, 'cache'), HOME: dir };
    // spawnSync blocks this process's event loop, and with it the test server: a closed port instead.
    const cli = (args: string[]) => {
      const c = spawnSync(process.execPath, [CLI, 'flash', ...args, '--to', join(dir, 'c.img')], { env });
      return { code: c.status, err: c.stderr.toString().trim() };
    };
    const port = await closedPort();
    const a = cli(['--image', `http://127.0.0.1:${port}/x.img`]);
    expect(a.code, a.err).to.equal(2);
    expect(a.err.split('\n')).to.have.length(1);
    const b = cli(['--image', 'http://127.0.0.1:1/x.img', '--image-sha256', 'nothex']);
    expect(b.code).to.equal(2);
    expect(b.err).to.match(/--image-sha256 nothex: expected 64 hexadecimal digits/);
  });
});
