import { expect } from 'chai';
import { ConsoleBootSession } from '../../rig/board/boot-session.js';
import { failurePatterns, loadBoard } from '../../rig/catalog/board.js';
import { effectiveBoardType, parseTimeoutOption, timeoutHint } from '../../rig/catalog/effective-board.js';
import { loadOsProfile, type OsProfile } from '../../rig/catalog/os-profile.js';
import { FailError } from '../../rig/errors.js';
import { GOOD_BOOT, SimBoard } from '../../rig/sim/console-board.js';

describe('timeouts and markers per OS (board type < OS profile < --timeout)', function () {
  const board = loadBoard('qemu-x86-64');
  const ref = loadOsProfile();
  const slowOs: OsProfile = {
    ...ref,
    file: '/p/debian.yaml',
    timeouts: { userspace: 200, login: 240 },
    markers: { userspace: 'Welcome to .*!' },
  };

  it('takes each limit from the most specific source and says where it came from', () => {
    const t = effectiveBoardType(board, slowOs, parseTimeoutOption('login=300'));
    expect(t.timeouts).to.include({ bootloader: 30, userspace: 200, login: 300, dhcp: 60 });
    expect(t.markers.userspace).to.equal('Welcome to .*!');
    expect(t.markers.kernel).to.equal(board.markers.kernel);
    expect(timeoutHint(t, 'login')).to.equal(
      'timeouts.login = 300 s from the option --timeout login=300; change it with timeouts.login in the OS profile or --timeout login=SECONDS',
    );
    expect(timeoutHint(t, 'userspace')).to.match(
      /^timeouts.userspace = 200 s from the OS profile \/p\/debian.yaml;/,
    );
    expect(timeoutHint(t, 'kernel')).to.match(
      /^timeouts.kernel = 60 s from the board type .*boards\/qemu-x86-64.yaml;/,
    );
  });

  it('refuses a bad --timeout and a login console the board does not have, in one line', () => {
    for (const bad of ['login', 'login=0', 'boot=30', 'login=30,ssh=x'])
      expect(() => parseTimeoutOption(bad)).to.throw(
        /^--timeout .*: expected STAGE=SECONDS.*one of bootloader, kernel/,
      );
    expect(() =>
      effectiveBoardType(board, { ...slowOs, console: { ...slowOs.console, device: 'tty1' } }),
    ).to.throw(
      /console.device says the OS shows its login prompt on tty1, but qemu-x86-64's serial console is ttyS0/,
    );
    expect(
      effectiveBoardType(board, { ...slowOs, console: { ...slowOs.console, device: 'ttyS0' } }).name,
    ).to.equal('qemu-x86-64');
  });

  it('a stage that times out names its marker, the limit, where the limit comes from and how to change it', async () => {
    const sim = new SimBoard([[GOOD_BOOT[0], GOOD_BOOT[1]]], 0.3);
    await sim.console.open();
    const type = effectiveBoardType(sim.type, {
      ...sim.os,
      file: '/p/os.yaml',
      timeouts: { userspace: 0.4 },
    });
    const boot = new ConsoleBootSession({
      type,
      os: sim.os,
      console: sim.console,
      power: sim.power,
      failurePatterns: failurePatterns(type),
    });
    const err = await boot.reach('userspace').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).to.be.instanceOf(FailError);
    expect(err!.message).to.match(
      /^userspace not reached within 0.4 s \(waiting for markers.userspace \/hw-test: userspace up\|.*\/ from the board type .*qemu-x86-64.yaml; timeouts.userspace = 0.4 s from the OS profile \/p\/os.yaml; change it with timeouts.userspace in the OS profile or --timeout userspace=SECONDS\)$/,
    );
  });
});
