import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadBoard } from '../../rig/catalog/board.js';
import { loadOsProfile } from '../../rig/catalog/os-profile.js';
import { ROOT } from '../../rig/catalog/schema.js';
import { FailError, InterruptedError, TimeoutError } from '../../rig/errors.js';
import { bootAttempts, splitBoots } from '../../suites/update-rollback/lib/boots.js';
import { phaseAt } from '../../suites/update-rollback/lib/cut.js';
import { LogTail } from '../../suites/update-rollback/lib/log-tail.js';
import { UpdateFlow, type RunningUpdate } from '../../suites/update-rollback/lib/update-flow.js';
import { RecordingBoot, noPower, setup } from '../helpers/update-rig.js';
import type { CommandResult } from '../../suites/fixture.js';

/** Serial logs recorded from the reference OS under QEMU (os/test/vm.py, x86_64, TCG). */
const FIXTURES = path.join(ROOT, 'test', 'unit', 'update-fixtures');
const recorded = (name: string) => readFileSync(path.join(FIXTURES, name));

const never: RunningUpdate = {
  command: 'os-update /tmp/b --reboot',
  result: new Promise(() => {}),
  abandon() {},
};

describe('update flow on recorded serial logs', function () {
  it('follows a committed update: markers of the write and switch, a first boot that panicked, v2 up', async function () {
    const { console, boot, flow, play, typed } = await setup();
    const tail = new LogTail(console, 1);
    const playing = play(recorded('x86_64-update-commit.log'));
    const marks = await flow.waitSwitched(tail, never);
    expect(marks.writingAt, 'write start').to.be.a('number');
    expect(marks.verifyingAt, 'this os-update prints no verifying marker').to.equal(undefined);
    expect(marks.switchedAt).to.be.at.least(marks.writingAt!);
    const f = await flow.followBoots(tail, { expect: 'new', old: 'A', bootlimit: 3, timeoutMs: 10_000 });
    await playing;
    // Under load the kernel of B's first boot panicked (IO-APIC timer check): boot counting retried it.
    expect(f.attempts.map((a) => `${a.slot}${a.bootcount}`)).to.deep.equal(['B1', 'B2']);
    expect(f.up).to.include({ slot: 'B', version: 'v2' });
    // The agent's own reboot ends waitSwitched (a legacy agent that reboots by itself); B1's panic follows.
    expect(f.resets).to.have.length(1);
    expect(f.altboot).to.deep.equal([]);
    // The session was armed when the update switched slots; B1's panic lies between that and B2's
    // bootloader, so the session would stop at it: the board is power-cycled for a clean boot.
    expect(f.cycled).to.equal(true);
    expect(boot.calls).to.deep.equal(['expectReboot', 'reboot hard=true', 'reach shell']);
    expect(f.attempts.map((a) => a.trial)).to.deep.equal([true, true]);
    expect(typed).to.deep.equal([]);
  });

  it('follows an unbootable update back to the old slot, counting each attempt', async function () {
    const { console, boot, flow, play } = await setup();
    const tail = new LogTail(console, 1);
    const playing = play(recorded('x86_64-update-altboot.log'));
    await flow.waitSwitched(tail, never);
    const f = await flow.followBoots(tail, { expect: 'old', old: 'A', bootlimit: 3, timeoutMs: 10_000 });
    await playing;
    expect(f.attempts.map((a) => `${a.slot}${a.bootcount}`)).to.deep.equal(['B1', 'B2', 'B3', 'A0']);
    expect(f.altboot).to.deep.equal(['hw-test: rollback-altboot slot=B->A']);
    expect(f.up).to.include({ slot: 'A', version: 'v1' });
    // Armed at the switch and at each attempt of B: the session meets A's boot first, no cycle.
    expect(f.cycled).to.equal(false);
    expect(boot.calls).to.deep.equal([
      'expectReboot',
      'expectReboot',
      'expectReboot',
      'expectReboot',
      'reach shell',
    ]);
    expect(f.attempts.map((a) => a.trial)).to.deep.equal([true, true, true, false]);
  });

  it('fails, quoting the attempts, when the bootloader tries the new slot more than bootlimit times', async function () {
    const { console, flow, play } = await setup();
    const tail = new LogTail(console, 1);
    void play(recorded('x86_64-update-altboot.log'));
    await flow.waitSwitched(tail, never);
    // The same log judged with a limit of 2: the third attempt of B is one too many.
    try {
      await flow.followBoots(tail, { expect: 'old', old: 'A', bootlimit: 2, timeoutMs: 10_000 });
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(FailError);
      const msg = (err as Error).message;
      expect(msg).to.contain('attempted B 3 times (bootlimit=2)');
      expect(msg).to.contain('hw-test: bootloader slot=B bootcount=1').and.contain('bootcount=3');
    }
  });

  it('fails quoting the update command when it exits before switching slots', async function () {
    this.timeout(10_000);
    const { console, flow, play } = await setup();
    const tail = new LogTail(console, 1);
    await play(
      Buffer.from(
        'hw-test: os-update start slot=A->B dev=/dev/vda3\r\nhw-test: os-update failed: sha256 mismatch\r\n',
      ),
    );
    const result: CommandResult = {
      code: 1,
      stdout: '',
      stderr: 'os-update: sha256 mismatch: got 00, want ff (slot B left inactive)\n',
    };
    const running: RunningUpdate = {
      command: 'os-update /tmp/b --sha256 ff --reboot',
      result: Promise.resolve(result),
      abandon() {},
    };
    try {
      await flow.waitSwitched(tail, running);
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(FailError);
      expect((err as Error).message)
        .to.contain('exited 1 before the update was activated')
        .and.contain('sha256 mismatch');
    }
  });

  it('tells which phase a cut landed in from the console lines', async function () {
    const { console, play } = await setup();
    await play(recorded('x86_64-update-commit.log'));
    const flow = new UpdateFlow({
      console,
      power: noPower,
      boot: new RecordingBoot(),
      os: loadOsProfile(),
      type: loadBoard('qemu-x86-64'),
      signal: new AbortController().signal,
    });
    const m = flow.settings.markers;
    const lines = console.lines;
    const upTo = (re: RegExp) => lines.slice(0, lines.findIndex((l) => re.test(l.text)) + 1);
    const afterUpdate = lines.slice(lines.findIndex((l) => /os-update \/tmp\/bundle/.test(l.text)));
    expect(phaseAt(lines.slice(0, 10), m, 'A')).to.equal('copy');
    expect(phaseAt(upTo(/os-update start/), m, 'A')).to.equal('write');
    expect(phaseAt(upTo(/os-update done/), m, 'A')).to.equal('after-switch');
    expect(phaseAt(afterUpdate, m, 'A')).to.equal('first-boot');
    expect(phaseAt([{ t: 0, at: '', text: 'os-update: verifying' }], m, 'A')).to.equal('before-switch');
  });

  it('splits a serial log into one log per boot, at each bootloader attempt', async function () {
    const { console, play } = await setup();
    await play(recorded('x86_64-update-altboot.log'));
    const flow = new UpdateFlow({
      console,
      power: noPower,
      boot: new RecordingBoot(),
      os: loadOsProfile(),
      type: loadBoard('qemu-x86-64'),
      signal: new AbortController().signal,
    });
    const boots = splitBoots(console.lines, flow.settings.markers);
    // v1 up and the update, B failing three times, A again: each boot from its firmware banner.
    expect(boots).to.have.length(5);
    for (const b of boots) {
      expect(b.map((l) => l.text).join('\n')).to.match(/SeaBIOS/);
      expect(bootAttempts(b, flow.settings.markers)).to.have.length(1);
    }
    expect(bootAttempts(console.lines, flow.settings.markers).map((a) => a.slot)).to.deep.equal([
      'A',
      'B',
      'B',
      'B',
      'A',
    ]);
    expect(boots[1].map((l) => l.text).join('\n')).to.contain('no /sbin/init in /dev/vda3');
  });
});

describe('update: following the console log', function () {
  it('waits for a line without moving the console cursor', async function () {
    const { console, play } = await setup();
    const tail = new LogTail(console, 1);
    const waiting = tail.until((l) => (/login:/.test(l.text) ? l.text.trim() : undefined), {
      timeoutMs: 5000,
      what: 'login',
    });
    await play(Buffer.from('noise\r\nhwtest login: \r\n'));
    expect(await waiting).to.equal('hwtest login:');
    // The boot session's expect still sees the same text.
    const m = await console.expect(/noise/, { timeoutMs: 100 });
    expect(m.match[0]).to.equal('noise');
  });

  it('times out with the lines it saw, and stops when aborted', async function () {
    const { console, play } = await setup();
    await play(Buffer.from('GRUB loading...\r\n'));
    const tail = new LogTail(console, 1);
    try {
      await tail.until(() => undefined, { timeoutMs: 30, what: 'slot A up in userspace' });
      expect.fail('no timeout');
    } catch (err) {
      expect(err).to.be.instanceOf(TimeoutError);
      expect((err as TimeoutError).message).to.contain('slot A up in userspace did not come');
      expect((err as TimeoutError).context.seen).to.include('GRUB loading...');
    }
    const ctl = new AbortController();
    const waiting = tail.until(() => undefined, { timeoutMs: 10_000, what: 'x', signal: ctl.signal });
    ctl.abort();
    await waiting.then(
      () => expect.fail('not aborted'),
      (e: unknown) => expect(e).to.be.instanceOf(InterruptedError),
    );
  });
});
