import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyReason, type HostView } from '../../rig/flash/safety.js';
import { tmpDir } from './flash-helpers.js';

/** A fake /sys and /proc: disk sdb (8:16) with partitions sdb1 (8:17) and sdb2 (8:18). */
function host(opts: { mountinfo?: string; swaps?: string; holders?: string[] } = {}): HostView {
  const root = tmpDir('hwt-sys-');
  const sys = join(root, 'sys');
  const proc = join(root, 'proc');
  const disk = join(sys, 'block/sdb');
  mkdirSync(join(disk, 'holders'), { recursive: true });
  writeFileSync(join(disk, 'dev'), '8:16\n');
  for (const [p, dev] of [
    ['sdb1', '8:17'],
    ['sdb2', '8:18'],
  ] as const) {
    mkdirSync(join(disk, p, 'holders'), { recursive: true });
    writeFileSync(join(disk, p, 'dev'), `${dev}\n`);
    writeFileSync(join(disk, p, 'partition'), '1\n');
    if (p === 'sdb2') for (const h of opts.holders ?? []) mkdirSync(join(disk, p, 'holders', h));
  }
  mkdirSync(join(sys, 'class/block'), { recursive: true });
  mkdirSync(join(proc, 'self'), { recursive: true });
  const base = '22 1 253:0 / / rw,relatime - ext4 /dev/vda rw\n';
  writeFileSync(join(proc, 'self/mountinfo'), base + (opts.mountinfo ?? ''));
  writeFileSync(join(proc, 'swaps'), `Filename\tType\tSize\tUsed\tPriority\n${opts.swaps ?? ''}`);
  return { sys, proc };
}

/** /sys/class/block/<name> links to the device's directory, as in the kernel. */
async function linkClass(h: HostView): Promise<void> {
  const { symlink } = await import('node:fs/promises');
  await symlink(join(h.sys, 'block/sdb'), join(h.sys, 'class/block/sdb'));
  await symlink(join(h.sys, 'block/sdb/sdb1'), join(h.sys, 'class/block/sdb1'));
  await symlink(join(h.sys, 'block/sdb/sdb2'), join(h.sys, 'class/block/sdb2'));
}

describe('flash: drive safety (against a fake /sys and /proc)', function () {
  it('lets an unused disk through', async function () {
    const h = host();
    await linkClass(h);
    expect(await busyReason(h, 'sdb')).to.equal(undefined);
  });

  it('refuses a disk one of whose partitions is mounted, naming it and the mount point', async function () {
    const h = host({ mountinfo: '40 22 8:18 / /media/card rw - vfat /dev/sdb2 rw\n' });
    await linkClass(h);
    expect(await busyReason(h, 'sdb')).to.equal('/dev/sdb2 is mounted at /media/card (unmount it first)');
  });

  it("says so when it holds the host's root", async function () {
    const h = host({ mountinfo: '22 1 8:17 / / rw - ext4 /dev/sdb1 rw\n' });
    await linkClass(h);
    expect(await busyReason(h, 'sdb')).to.equal("/dev/sdb1 holds the host's root filesystem");
  });

  it('refuses a disk with a swap partition', async function () {
    const h = host({ swaps: '/dev/sdb1\tpartition\t1048572\t0\t-2\n' });
    await linkClass(h);
    expect(await busyReason(h, 'sdb')).to.equal('/dev/sdb1 is in use as swap (swapoff it first)');
  });

  it('refuses a disk held by device mapper (LVM, crypt)', async function () {
    const h = host({ holders: ['dm-0'] });
    await linkClass(h);
    expect(await busyReason(h, 'sdb')).to.match(/^\/dev\/sdb2 is held by dm-0/);
  });
});
