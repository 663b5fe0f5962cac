import { expect } from 'chai';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inputHash } from '../../rig/image/build.js';

/** A small os/ tree: the shared build, a profile, and the OSTree family's folder. */
function osTree(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-os-'));
  for (const [rel, text] of Object.entries({
    'build.sh': 'echo build\n',
    'overlay/etc/inittab': '::sysinit:/etc/init.d/rcS\n',
    'profiles/reference.yaml': 'name: ref\n',
    'ostree/build.sh': 'echo ostree\n',
  })) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

describe('image cache key (inputHash)', function () {
  it('changes for the OSTree variants, not the reference ones, when os/ostree changes', async function () {
    const dir = osTree();
    const before = {
      v1: await inputHash('x86_64', 'v1', dir),
      ostree: await inputHash('x86_64', 'ostree', dir),
      noFallback: await inputHash('x86_64', 'ostree-no-fallback', dir),
    };
    writeFileSync(path.join(dir, 'ostree/build.sh'), 'echo ostree changed\n');
    expect(await inputHash('x86_64', 'v1', dir), 'v1').to.equal(before.v1);
    expect(await inputHash('x86_64', 'ostree', dir), 'ostree').to.not.equal(before.ostree);
    expect(await inputHash('x86_64', 'ostree-no-fallback', dir), 'ostree-no-fallback').to.not.equal(
      before.noFallback,
    );
  });

  it('changes for every variant when a shared input changes, and for none when a profile does', async function () {
    const dir = osTree();
    const v1 = await inputHash('x86_64', 'v1', dir);
    const ostree = await inputHash('x86_64', 'ostree', dir);
    writeFileSync(path.join(dir, 'profiles/reference.yaml'), 'name: changed\n');
    expect(await inputHash('x86_64', 'v1', dir)).to.equal(v1);
    writeFileSync(path.join(dir, 'overlay/etc/inittab'), '::sysinit:/etc/init.d/rcS2\n');
    expect(await inputHash('x86_64', 'v1', dir)).to.not.equal(v1);
    expect(await inputHash('x86_64', 'ostree', dir)).to.not.equal(ostree);
  });
});
