import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';

/**
 * The OSTree variant's GRUB boot counting chooses among the deployments that
 * ostree-grub-generator writes while `ostree admin deploy` and `undeploy` swap the boot version
 * (os/README.md, "OSTree variant"). Real ostree, on a sysroot in a folder (as the image build makes
 * it): the generated file must follow ostree's own order, newest first, with the tokens the
 * markers and `ostree admin status` use, and paths that exist under the sysroot's /boot.
 */
const GENERATOR = path.join(ROOT, 'os', 'ostree', 'overlay', 'usr', 'lib', 'ostree', 'ostree-grub-generator');

function sh(script: string, env: NodeJS.ProcessEnv = {}): string {
  // As the image build does: root, or the root of a user namespace mapped to the caller.
  const argv =
    process.getuid?.() === 0 ? ['sh', '-c', script] : ['unshare', '--map-root-user', 'sh', '-c', script];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${script}\nexit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A minimal commit tree: a kernel and initramfs where ostree looks for them, /usr/etc, os-release. */
function tree(dir: string, version: string): string {
  const kdir = path.join(dir, 'usr', 'lib', 'modules', '6.1.0-test');
  mkdirSync(kdir, { recursive: true });
  mkdirSync(path.join(dir, 'usr', 'etc'), { recursive: true });
  mkdirSync(path.join(dir, 'sysroot'));
  mkdirSync(path.join(dir, 'boot'));
  symlinkSync('sysroot/ostree', path.join(dir, 'ostree'));
  writeFileSync(path.join(kdir, 'vmlinuz'), `kernel ${version}\n`);
  writeFileSync(path.join(kdir, 'initramfs.img'), `initramfs ${version}\n`);
  writeFileSync(path.join(dir, 'usr', 'lib', 'os-release'), `ID=t\nPRETTY_NAME="t ${version}"\n`);
  return dir;
}

/** Reads the generated file's variables (set NAME='VALUE'). */
function entries(file: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of readFileSync(file, 'utf8').matchAll(/^set (\w+)=(?:'([^']*)'|(\S*))$/gm))
    vars[m[1]] = m[2] ?? m[3];
  return vars;
}

function statusIds(sr: string): string[] {
  return [
    ...sh(`ostree admin --sysroot=${sr} status`).matchAll(/^[* ] +t ([0-9a-f]{12})[0-9a-f]{52}(\.\d+)/gm),
  ].map((m) => m[1] + m[2]);
}

describe('OSTree variant: ostree-grub-generator follows ostree admin deploy and undeploy (real ostree)', function () {
  this.timeout(120_000);
  const missing = !spawnSync('ostree', ['--version']).stdout
    ? 'ostree is not installed (scripts/setup.sh installs it)'
    : undefined;
  const title =
    'lists the deployments newest first, by the tokens ostree admin status shows, with existing kernels';
  let work = '';
  after(() => work && rmSync(work, { recursive: true, force: true }));

  (missing ? it.skip : it)(missing ? `${title} (pending: ${missing})` : title, function () {
    work = mkdtempSync(path.join(os.tmpdir(), 'hwt-ostree-gen-'));
    const repo = path.join(work, 'repo');
    const sr = path.join(work, 'sysroot');
    const env = { OSTREE_GRUB2_EXEC: GENERATOR, OSTREE_SYSROOT_DEBUG: 'mutable-deployments' };
    sh(`ostree --repo=${repo} init --mode=bare-user-only`);
    for (const v of ['v1', 'v2'])
      sh(
        `ostree --repo=${repo} commit --branch=t/${v} --tree=dir=${tree(path.join(work, v), v)} --owner-uid=0 --owner-gid=0 --no-xattrs -s ${v}`,
      );
    mkdirSync(sr);
    sh(
      [
        `ostree admin init-fs --modern ${sr}`,
        `ostree --repo=${sr}/ostree/repo config set sysroot.bootloader grub2`,
        `ostree admin --sysroot=${sr} os-init t`,
        `ostree --repo=${sr}/ostree/repo pull-local ${repo} t/v1 t/v2`,
        `ostree admin --sysroot=${sr} deploy --os=t --karg=root=/dev/vda2 t/v1`,
        `ostree admin --sysroot=${sr} deploy --os=t t/v2`,
      ].join(' && '),
      env,
    );
    const cfg = path.join(sr, 'boot', 'loader', 'grub.cfg');
    let e = entries(cfg);
    const ids = statusIds(sr);
    expect(ids).to.have.length(2);
    expect(e.ostree_count).to.equal('2');
    expect([e.ostree_id_0, e.ostree_id_1], 'newest first, as ostree admin status').to.deep.equal(ids);
    for (const i of [0, 1]) {
      expect(existsSync(path.join(sr, 'boot', e[`ostree_linux_${i}`])), e[`ostree_linux_${i}`]).to.equal(
        true,
      );
      expect(existsSync(path.join(sr, 'boot', e[`ostree_initrd_${i}`])), e[`ostree_initrd_${i}`]).to.equal(
        true,
      );
      expect(e[`ostree_options_${i}`]).to.match(/root=\/dev\/vda2 .*ostree=\/ostree\/boot\.\d\/t\//);
    }
    expect(readFileSync(path.join(sr, 'boot', e.ostree_linux_0), 'utf8')).to.equal('kernel v2\n');

    // A rollback removes the failed (newest) deployment: the other one becomes entry 0.
    sh(`ostree admin --sysroot=${sr} undeploy 0`, env);
    e = entries(cfg);
    expect(e.ostree_count).to.equal('1');
    expect(e.ostree_id_0).to.equal(ids[1]);
    expect(e.ostree_id_1, 'no stale entry').to.equal(undefined);
  });
});
