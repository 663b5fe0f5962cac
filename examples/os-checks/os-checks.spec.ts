import { expect } from 'chai';
import { rig, skipBecause, type ConsoleShell } from 'hw-test/suite';

/**
 * What a device OS in the resinOS/balenaOS mould promises beyond hw-test's own suites, checked on
 * the serial console of one run: the root filesystem is read-only, the data partition is writable
 * and keeps what was written (synced) across a power cut and across a reboot, and the services
 * the OS profile names are running. Every expectation comes from the profile and the options.
 *
 * A user suite: it imports hw-test/suite and chai only, and runs with
 *   hw-test --board qemu-x86-64 --suite examples/os-checks
 */
describe('os-checks', function () {
  let shell: ConsoleShell;
  /** A file on the data partition, unique to this run, written once and read after each restart. */
  let probe: { file: string; text: string } | undefined;

  async function login(): Promise<ConsoleShell> {
    shell = await rig().boot.shell(rig().signal);
    return shell;
  }

  async function run(command: string): Promise<string> {
    const res = await shell.run(command, { signal: rig().signal });
    expect(res.code, `\`${command}\` exited ${res.code}: ${res.stdout.trim()}`).to.equal(0);
    return res.stdout;
  }

  // A board that does not boot fails this hook, and the tests say they were not run because of it.
  before(async function () {
    await login();
  });

  it('mounts the root filesystem read-only', async function () {
    const mounts = await run('cat /proc/mounts');
    rig().attach('mounts', mounts);
    // The last mount on / is the one in use (the initramfs's rootfs lies beneath it).
    const root = mounts
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1] === '/')
      .pop();
    expect(root, 'a filesystem mounted on / in /proc/mounts').to.not.equal(undefined);
    expect(root![3].split(','), `the mount options of / (${root![0]}, ${root![2]})`).to.include('ro');
    const write = await shell.run('touch /.os-checks-probe', { signal: rig().signal });
    if (write.code === 0) await shell.run('rm -f /.os-checks-probe');
    expect(write.code, 'touch /.os-checks-probe succeeded: the root filesystem takes writes').to.not.equal(0);
  });

  it('runs the services the OS profile names', async function () {
    const services = rig().os.services;
    if (!services?.running.length)
      skipBecause(this, `the OS profile ${rig().os.name} names no services (services.running)`);
    const check = services.check ?? 'pidof {name}';
    // A service started in the background at boot (avahi-daemon) may be a moment late.
    const deadline = Date.now() + 30_000;
    let missing = services.running;
    for (;;) {
      const still: string[] = [];
      for (const name of missing) {
        const res = await shell.run(check.replaceAll('{name}', name), { signal: rig().signal });
        if (res.code !== 0) still.push(name);
      }
      missing = still;
      if (missing.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(missing, `services not running after 30 s (checked with \`${check}\`)`).to.deep.equal([]);
    rig().attach('services', `${services.running.join('\n')}\n`);
  });

  it('writes to the data partition', async function () {
    const dir = rig().options['data-dir'] ?? rig().os.update?.dataDir;
    if (!dir) skipBecause(this, 'no data directory: give --data-dir DIR or update.dataDir in the OS profile');
    const text = `${rig().hostname}-${Date.now()}`;
    const file = `${dir}/os-checks-${text}`;
    // Synced: what the OS promises to keep across a power cut is what reached the disk.
    await run(`printf '%s' '${text}' > '${file}' && sync`);
    expect((await run(`cat '${file}'`)).trim()).to.equal(text);
    probe = { file, text };
  });

  it('keeps the data across a power cut', async function () {
    if (!probe) skipBecause(this, 'nothing was written to the data partition');
    await rig().boot.reboot({ hard: true, signal: rig().signal });
    await login();
    rig().metric('loginAfterPowerCutMs', rig().boot.timings.get('login') ?? 0);
    expect((await run(`cat '${probe.file}'`)).trim(), `${probe.file} after a power cut`).to.equal(probe.text);
  });

  it('keeps the data across a reboot', async function () {
    if (!probe) skipBecause(this, 'nothing was written to the data partition');
    const reboot = rig().os.commands.reboot;
    if (!reboot) skipBecause(this, `the OS profile ${rig().os.name} has no reboot command (commands.reboot)`);
    // In the background (in braces: the console shell appends its exit-code marker after a `;`),
    // so that the command returns before the OS goes down.
    await run(`{ (sleep 1; ${reboot}) >/dev/null 2>&1 & }`);
    rig().boot.expectReboot();
    await login();
    rig().metric('loginAfterRebootMs', rig().boot.timings.get('login') ?? 0);
    expect((await run(`cat '${probe.file}'`)).trim(), `${probe.file} after a reboot`).to.equal(probe.text);
    await run(`rm -f '${probe.file}' && sync`);
  });
});
