import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { InfraError } from '../../rig/errors.js';
import { download } from '../../rig/flash/download.js';
import { flash, prepareSource } from '../../rig/flash/index.js';
import { join } from 'node:path';
import { makeImage, MiB, pattern, run, tmpDir } from './flash-helpers.js';

const BODY = pattern(3 << 20, 11);
const SHA = createHash('sha256').update(BODY).digest('hex');

/** Serves BODY with Range support; the first `drops` responses stop half-way and cut the connection. */
function server(drops: number) {
  const seen: { range?: string }[] = [];
  let left = drops;
  const srv = http.createServer((req, res) => {
    // No checksum published beside the image (those requests are not what these tests count).
    if (req.url?.endsWith('.sha256')) return res.writeHead(404).end();
    seen.push({ range: req.headers.range });
    if (req.headers['if-none-match'] === '"body-v1"') return res.writeHead(304).end();
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    const part = BODY.subarray(from);
    res.writeHead(m ? 206 : 200, {
      // A validator: a part left by an earlier call is resumed only when it proves the same content.
      etag: '"body-v1"',
      'content-length': part.length,
      ...(m ? { 'content-range': `bytes ${from}-${BODY.length - 1}/${BODY.length}` } : {}),
    });
    if (left > 0) {
      left--;
      res.write(part.subarray(0, part.length >> 1), () => res.socket?.destroy());
      return;
    }
    res.end(part);
  });
  return new Promise<{ url: string; seen: typeof seen; close: () => Promise<void> }>((resolve) =>
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/os/image.img.xz`,
        seen,
        close: () => new Promise((r) => srv.close(() => r())),
      });
    }),
  );
}

describe('flash: downloads', function () {
  it('resumes with a Range request after the connection drops mid-body', async function () {
    const s = await server(2);
    try {
      const got = await download(s.url, { cacheDir: tmpDir() });
      expect(readFileSync(got.path).equals(BODY)).to.equal(true);
      expect(got.sha256).to.equal(SHA);
      expect(s.seen).to.have.length(3);
      expect(s.seen[0].range).to.equal(undefined);
      // Each attempt asks for what is missing: a later start each time, inside the body.
      const from = s.seen.slice(1).map((x) => Number(/^bytes=(\d+)-$/.exec(x.range ?? '')?.[1]));
      expect(from[0]).to.be.within(1, BODY.length - 1);
      expect(from[1]).to.be.within(from[0] + 1, BODY.length - 1);
    } finally {
      await s.close();
    }
  });

  it('keeps a truncated download and resumes it on the next call, then serves it from the cache once revalidated', async function () {
    const s = await server(1);
    const cacheDir = tmpDir();
    try {
      const err = await download(s.url, { cacheDir, attempts: 1 }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InfraError);
      expect((err as Error).message).to.match(/kept dropping .*run again to resume/);
      const path = await prepareSource(s.url, { cacheDir });
      expect(readFileSync(path).equals(BODY)).to.equal(true);
      expect(s.seen).to.have.length(2);
      expect(s.seen[1].range).to.match(/^bytes=[1-9]\d*-$/);
      // Revalidated: one conditional request, answered 304, and the cached copy is used.
      const again = await download(s.url, { cacheDir });
      expect(again.cached).to.equal(true);
      expect(s.seen).to.have.length(3);
    } finally {
      await s.close();
    }
  });

  it('refuses content whose sha256 is not the one asked for', async function () {
    const s = await server(0);
    try {
      const err = await download(s.url, { cacheDir: tmpDir(), sha256: '0'.repeat(64) }).catch(
        (e: unknown) => e,
      );
      expect((err as Error).message).to.include(`sha256 is ${SHA}, expected ${'0'.repeat(64)}`);
    } finally {
      await s.close();
    }
  });

  it('leaves local paths alone', async function () {
    expect(await prepareSource('/some/image.img')).to.equal('/some/image.img');
  });

  it('flashes from a URL, with the bmap published next to the image', async function () {
    const dir = tmpDir();
    const img = makeImage(join(dir, 'os.img'), 8 * MiB, [[MiB, MiB]]);
    run('bmaptool', ['create', '-o', join(dir, 'os.bmap'), img]);
    run('xz', ['-0', '-k', img]);
    const files: Record<string, string> = { '/os.img.xz': `${img}.xz`, '/os.bmap': join(dir, 'os.bmap') };
    const asked: string[] = [];
    const srv = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      const f = files[req.url ?? ''];
      if (!f) return res.writeHead(404).end();
      res.end(readFileSync(f));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const { port } = srv.address() as AddressInfo;
      const res = await flash(`http://127.0.0.1:${port}/os.img.xz`, join(dir, 'card.img'), {
        cacheDir: join(dir, 'cache'),
      });
      expect(res).to.include({ format: 'xz', map: 'bmap', bytesWritten: MiB, verified: true });
      expect(readFileSync(join(dir, 'card.img')).equals(readFileSync(img))).to.equal(true);
      expect(asked).to.deep.equal(['/os.img.xz', '/os.img.xz.sha256', '/os.img.bmap', '/os.bmap']);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});
