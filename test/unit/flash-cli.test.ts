import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeImage, MiB, tmpDir } from './flash-helpers.js';

const CLI = join(import.meta.dirname, '../../rig/cli/main.js');

function hwTest(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, CI: 'true', ...env } });
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe('cli: hw-test flash', function () {
  this.timeout(30_000);

  it('writes an image to a file like bmaptool copy, with plain progress lines under CI', function () {
    const dir = tmpDir();
    const img = makeImage(join(dir, 'os.img'), 8 * MiB, [[0, 2 * MiB]]);
    const r = hwTest(['flash', '--image', img, '--to', join(dir, 'card.img')]);
    expect(r.code, r.err).to.equal(0);
    expect(readFileSync(join(dir, 'card.img')).equals(readFileSync(img))).to.equal(true);
    expect(r.out).to.match(
      /^flashed .*os\.img -> .*card\.img: raw, holes map, 2\.1 MB of 8\.4 MB written in .*verified in/,
    );
    const lines = r.err.trim().split('\n');
    expect(lines.some((l) => /^flash write +100% /.test(l))).to.equal(true);
    expect(lines.some((l) => /^flash verify 100% /.test(l))).to.equal(true);
    expect(r.err).to.not.include('\x1b[');
  });

  it('--no-verify skips the read-back', function () {
    const dir = tmpDir();
    const img = makeImage(join(dir, 'os.img'), 4 * MiB, [[0, MiB]]);
    const r = hwTest(['flash', '--no-verify', '--image', img, '--to', join(dir, 'card.img')]);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/not verified/);
    expect(r.err).to.not.match(/verify/);
  });

  it('exits 2 with one line on bad input: a missing option, a missing image, the image itself as target', function () {
    const dir = tmpDir();
    const img = makeImage(join(dir, 'os.img'), MiB, [[0, 4096]]);
    const a = hwTest(['flash', '--image', img]);
    expect(a.code).to.equal(2);
    expect(a.err.trim()).to.equal('hw-test flash: --image and --to are required (see hw-test flash --help)');
    const b = hwTest(['flash', '--image', join(dir, 'nope.img'), '--to', join(dir, 'x.img')]);
    expect(b.code).to.equal(2);
    expect(b.err.trim()).to.match(/^hw-test: .*nope\.img: cannot open the image \(ENOENT\)$/);
    const c = hwTest(['flash', '--image', img, '--to', img]);
    expect(c.code).to.equal(2);
    expect(c.err.trim()).to.match(/os\.img: refusing to write: it is the image itself$/);
  });
});
