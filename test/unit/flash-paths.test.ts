import { expect } from 'chai';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../rig/errors.js';
import { flash, REAL_DEPS } from '../../rig/flash/index.js';
import { checkTarget } from '../../rig/flash/safety.js';
import { makeImage, MiB, pattern, tmpDir } from './flash-helpers.js';

const ghosts: string[] = [];
/** A name under /dev that no device has: the flasher must never create it (removed if it did). */
const ghost = () => {
  const name = `hwt-ghost-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  ghosts.push(`/dev/${name}`);
  return name;
};

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the flash should be refused').to.be.instanceOf(InputError);
  const msg = (err as Error).message;
  expect(msg.split('\n')).to.have.length(1);
  return msg;
}

describe('flash: target paths are judged where the write lands', function () {
  this.timeout(20_000);
  let dir: string;
  let img: string;

  after(function () {
    for (const g of ghosts) rmSync(g, { force: true });
  });

  before(function () {
    dir = tmpDir('hwt-paths-');
    img = makeImage(join(dir, 'os.img'), 2 * MiB, [[0, MiB]]);
  });

  it('`--to //dev/NAME` is /dev/NAME: no such device, and no file is created in /dev', async function () {
    const name = ghost();
    const msg = await refusal(flash(img, `//dev/${name}`));
    expect(msg).to.match(new RegExp(`^//dev/${name}: refusing to write: no such device \\(/dev/${name}\\)`));
    expect(existsSync(`/dev/${name}`)).to.equal(false);
  });

  it('a dangling symlink into /dev is refused, and its target is not created', async function () {
    const name = ghost();
    const link = join(dir, 'card-link');
    symlinkSync(`/dev/${name}`, link);
    const msg = await refusal(flash(img, link));
    expect(msg).to.include(`no such device (/dev/${name}); a file is never created under /dev`);
    expect(existsSync(`/dev/${name}`)).to.equal(false);
  });

  it('a path through a symlinked directory into /dev is refused', async function () {
    const name = ghost();
    symlinkSync('/dev', join(dir, 'devdir'));
    const msg = await refusal(flash(img, join(dir, 'devdir', name)));
    expect(msg).to.include(`(/dev/${name})`);
    expect(existsSync(`/dev/${name}`)).to.equal(false);
  });

  it('a regular file under /dev is not a card (a tool created it by mistake)', async function () {
    if (!existsSync('/dev/shm')) this.skip();
    const f = `/dev/shm/${ghost()}`;
    writeFileSync(f, 'old');
    try {
      const msg = await refusal(flash(img, f));
      expect(msg).to.include('is a regular file under /dev, not a device');
      expect(readFileSync(f, 'utf8')).to.equal('old');
    } finally {
      rmSync(f, { force: true });
    }
  });

  it('a hard link of the image is the image: refused by device and inode, the image intact', async function () {
    const mine = makeImage(join(dir, 'mine.img'), 2 * MiB, [[0, MiB]]);
    const before = readFileSync(mine);
    linkSync(mine, join(dir, 'hardlink.img'));
    const msg = await refusal(flash(mine, join(dir, 'hardlink.img')));
    expect(msg).to.match(
      /hardlink\.img: refusing to write: it is the image itself \(the same file under another name\)$/,
    );
    expect(readFileSync(mine).equals(before)).to.equal(true);
  });

  it('a symlink to the image is the image too', async function () {
    symlinkSync(img, join(dir, 'symlink.img'));
    const msg = await refusal(flash(img, join(dir, 'symlink.img')));
    expect(msg).to.match(/it is the image itself/);
  });

  it('a file that backs a loop device is refused, naming the device (a fake /sys)', async function () {
    const card = join(dir, 'backing.img');
    const old = pattern(MiB, 3);
    writeFileSync(card, old);
    const sys = join(dir, 'sys');
    mkdirSync(join(sys, 'block/loop7/loop'), { recursive: true });
    mkdirSync(join(sys, 'block/loop8'), { recursive: true }); // not attached: no loop/ folder
    // The kernel names the backing file by the path it was attached with: another name still matches.
    linkSync(card, join(dir, 'attached-as.img'));
    writeFileSync(join(sys, 'block/loop7/loop/backing_file'), `${join(dir, 'attached-as.img')}\n`);
    const host = { sys, proc: join(dir, 'proc') };
    const msg = await refusal(flash(img, card, {}, { ...REAL_DEPS, host }));
    expect(msg).to.equal(
      `${card}: refusing to write: it backs /dev/loop7 (detach it first: losetup -d /dev/loop7)`,
    );
    expect(readFileSync(card).equals(old)).to.equal(true);
  });

  it('a swap file is refused (a fake /proc/swaps)', async function () {
    const card = join(dir, 'swapfile');
    writeFileSync(card, 'old');
    const proc = join(dir, 'proc-swap');
    mkdirSync(proc, { recursive: true });
    writeFileSync(join(proc, 'swaps'), `Filename\tType\tSize\tUsed\tPriority\n${card}\tfile\t1020\t0\t-2\n`);
    const err = await checkTarget(card, MiB, [], { sys: join(dir, 'nosys'), proc }).catch((e: unknown) => e);
    expect((err as Error).message).to.equal(
      `${card}: refusing to write: it is in use as a swap file (swapoff it first)`,
    );
  });

  it('a new file lands where the path resolves: through a symlinked directory, named as given', async function () {
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'alias'));
    const res = await flash(img, join(dir, 'alias', 'new.img'));
    expect(res.destination).to.equal(join(dir, 'alias', 'new.img'));
    expect(readFileSync(join(dir, 'real', 'new.img')).equals(readFileSync(img))).to.equal(true);
  });
});
