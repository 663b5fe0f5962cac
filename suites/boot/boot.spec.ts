import { expect } from 'chai';
import { configurableItems, rig, skipBecause, type BootStage } from '../fixture.js';

/**
 * The boot suite walks the boot stage by stage on the console: each stage is a test, timed from
 * power on, with the kernel failure patterns armed (a panic fails at once, quoting the line).
 */
describe('boot', function () {
  const stages: [BootStage, string][] = [
    ['bootloader', 'reaches the bootloader'],
    ['kernel', 'starts the kernel'],
    ['userspace', 'reaches userspace'],
    ['login', 'shows a login prompt on the console'],
    ['shell', 'logs in on the console'],
  ];

  for (const [stage, title] of stages) {
    it(title, async function () {
      const { boot } = rig();
      if (boot.failure) skipBecause(this, `not reached: the boot failed before: ${boot.failure.message}`);
      await boot.reach(stage, rig().signal);
      const at = boot.timings.get(stage)!;
      rig().metric(`${stage}AtMs`, at);
    });
  }

  it('runs a command on the console and checks its exit code', async function () {
    const { boot, os, type } = rig();
    if (boot.failure) skipBecause(this, `not reached: the boot failed before: ${boot.failure.message}`);
    const shell = await boot.shell(rig().signal);

    const uname = await shell.run('uname -m; uname -r');
    expect(uname.code, `uname exited ${uname.code}: ${uname.stdout}`).to.equal(0);
    const [machine, release] = uname.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim());
    expect(release, 'kernel release').to.match(/^\d+\.\d+/);
    const archOf: Record<string, RegExp> = { x86_64: /^x86_64$/, armv7: /^armv7/, aarch64: /^aarch64$/ };
    expect(machine, `uname -m on a ${type.arch} board`).to.match(archOf[type.arch]);

    // The exit code is the board's, not assumed: a failing command must read as failing.
    const failing = await shell.run('false');
    expect(failing.code, 'exit code of `false`').to.equal(1);

    const version = await shell.run(os.commands.version);
    expect(version.code, `reading the OS version: ${version.stdout}`).to.equal(0);
    expect(version.stdout.trim(), 'OS version').to.not.equal('');
    rig().attach('os-version', version.stdout.trim());
  });

  // What is on the board may be an older system: a flasher that wrote nothing leaves the last run's
  // OS on internal storage, a mux that never switched leaves the card as it was. The hostname
  // configured into this run's copy of the image tells them apart.
  it("is this run's image (its hostname is the one configured for this run)", async function () {
    const { boot, os, hostname } = rig();
    if (boot.failure) skipBecause(this, `not reached: the boot failed before: ${boot.failure.message}`);
    if (!configurableItems(os).has('hostname')) {
      skipBecause(
        this,
        `the OS profile ${os.name} configures no hostname (configure.method ${os.configure?.method ?? 'absent'}): this run's image cannot be told from an older one`,
      );
    }
    const shell = await boot.shell(rig().signal);
    const res = await shell.run('cat /proc/sys/kernel/hostname');
    expect(res.code, `reading the hostname: ${res.stdout}`).to.equal(0);
    expect(res.stdout.trim(), 'the running system is not the image written in this run').to.equal(hostname);
  });
});
