import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadOsProfile } from '../../rig/catalog/os-profile.js';
import { FailError, TimeoutError } from '../../rig/errors.js';
import type { CommandResult, ConsoleShell, Dut, SuiteContext } from '../../suites/fixture.js';
import { cutDuringUpdate } from '../../suites/update-rollback/lib/cut.js';
import { LogTail } from '../../suites/update-rollback/lib/log-tail.js';
import { UpdateSession } from '../../suites/update-rollback/lib/session.js';
import type { Bundle } from '../../suites/update-rollback/lib/bundle.js';
import { RecordingBoot, lines, noPower, setup } from '../helpers/update-rig.js';

/**
 * Issue 17, "fail fast, and for the right reason": against an update agent that misbehaves, each
 * wait stops as soon as the answer is known and says what was seen, instead of waiting out the
 * board's update timeout (300 s on qemu-x86-64) and naming the wrong cause.
 */
const bundle: Bundle = {
  kind: 'good',
  key: 'update:v2',
  path: '/host/rootfs-v2.ext4.zst',
  bytes: 1000,
  version: 'v2',
};

/** A board reached over SSH whose answers a test scripts; it records commands and copies. */
class ScriptedDut implements Dut {
  readonly address = '10.0.0.2';
  readonly commands: string[] = [];
  readonly puts: string[] = [];
  constructor(private readonly answer: (command: string) => Promise<CommandResult>) {}
  exec(command: string): Promise<CommandResult> {
    this.commands.push(command);
    return this.answer(command);
  }
  put(_local: string | Buffer, remote: string): Promise<void> {
    this.puts.push(remote);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));
const ok = (stdout = ''): CommandResult => ({ code: 0, stdout, stderr: '' });

describe('update suite: fail fast, for the right reason', function () {
  this.timeout(10_000);

  it('a cut waiting for the write stops at once when the update command has already failed', async function () {
    const { flow } = await setup();
    const dut = new ScriptedDut((c) =>
      c.startsWith('os-update')
        ? later(100, { code: 1, stdout: '', stderr: 'os-update: sha256 mismatch: got 00, want ff\n' })
        : Promise.resolve(ok()),
    );
    const err = await cutDuringUpdate(
      flow,
      dut,
      bundle,
      { index: 1, phase: 'write', fraction: 0.5 },
      {
        durations: { copy: 1, write: 1, 'before-switch': 1, 'after-switch': 1, 'first-boot': 1 },
        hasVerifyingMarker: false,
      },
      'A',
    ).catch((e: Error) => e);
    expect(err).to.be.instanceOf(FailError);
    expect((err as Error).message)
      .to.contain('exited 1 before the update was activated')
      .and.contain('sha256 mismatch');
    // The board's update timeout is 300 s: this test's own 10 s timeout proves nobody waited for it.
    expect(flow.ms.update).to.equal(300_000);
  });

  it('following the boots stops when the old system comes up instead of the new one, saying so', async function () {
    const { flow, play } = await setup();
    const tail = new LogTail(flow.r.console, 1);
    void play(
      lines(
        'reboot: Restarting system',
        'hw-test: bootloader slot=A bootcount=0 upgrade_available=0',
        'Linux version 6.1.0-13-amd64',
        'hw-test: userspace up version=v1 slot=A',
        'hwt-1 login:',
      ),
    );
    const err = await flow
      .followBoots(tail, { expect: 'new', old: 'A', bootlimit: 3, timeoutMs: 300_000 })
      .catch((e: Error) => e);
    expect(err).to.be.instanceOf(FailError);
    expect((err as Error).message)
      .to.contain('the system that ran before the update (A, version v1) came up again')
      .and.contain('the update did not switch')
      .and.contain('hw-test: bootloader slot=A bootcount=0 upgrade_available=0');
  });

  it('tells an update that wrote the running system from one that did not switch', async function () {
    const { flow, play } = await setup();
    const tail = new LogTail(flow.r.console, 1);
    void play(
      lines(
        'hw-test: bootloader slot=A bootcount=1 upgrade_available=1',
        'hw-test: userspace up version=v2 slot=A',
      ),
    );
    const err = await flow
      .followBoots(tail, { expect: 'new', old: 'A', oldVersion: 'v1', bootlimit: 3, timeoutMs: 300_000 })
      .catch((e: Error) => e);
    expect((err as Error).message).to.contain(
      '(A, version v2) came up again instead of a new one: it runs v2 where v1 ran: the update wrote the running system',
    );
  });

  it('following the boots stops when the bootloader keeps failing to boot, quoting it', async function () {
    const { flow, play } = await setup();
    const tail = new LogTail(flow.r.console, 1);
    const cannot = 'hw-test: bootloader cannot boot slot=B, rebooting';
    void play(lines(...Array.from({ length: 8 }, () => cannot)));
    const err = await flow
      .followBoots(tail, { expect: 'old', old: 'A', bootlimit: 3, timeoutMs: 300_000 })
      .catch((e: Error) => e);
    expect(err).to.be.instanceOf(FailError);
    expect((err as Error).message).to.match(
      /could not boot 5 times in a row \("hw-test: bootloader cannot boot slot=B/,
    );
  });

  it('counts a "cannot boot" line that is also the reset line (a bootloader that resets by itself)', async function () {
    const os = loadOsProfile();
    const { flow, play } = await setup({
      ...os,
      update: {
        ...os.update,
        markers: { reset: 'reboot: Restarting system|hw-test: bootloader cannot boot' },
      },
    });
    const tail = new LogTail(flow.r.console, 1);
    void play(lines(...Array.from({ length: 6 }, () => 'hw-test: bootloader cannot boot slot=B, rebooting')));
    const err = await flow
      .followBoots(tail, { expect: 'old', old: 'A', bootlimit: 3, timeoutMs: 300_000 })
      .catch((e: Error) => e);
    expect((err as Error).message).to.match(/could not boot 5 times in a row/);
  });

  it('a follow that times out says what the console showed, not only how long it waited', async function () {
    const { flow, play } = await setup();
    const tail = new LogTail(flow.r.console, 1);
    await play(
      lines(
        'hw-test: bootloader slot=B bootcount=1 upgrade_available=1',
        'hw-test: userspace up version=v2 slot=B',
      ),
    );
    const err = await flow
      .followBoots(tail, { expect: 'old', old: 'A', bootlimit: 3, timeoutMs: 200 })
      .catch((e: Error) => e);
    expect(err).to.be.instanceOf(TimeoutError);
    expect((err as Error).message)
      .to.contain('A up in userspace again did not come within')
      .and.contain('seen: 1 boot attempts (hw-test: bootloader slot=B bootcount=1 upgrade_available=1)')
      .and.contain('userspace up: B v2');
  });
});

describe('update suite: each test starts from a checked state, and cleans up after itself', function () {
  this.timeout(10_000);
  let dir: string;
  before(function () {
    // The board's tools, as stand-ins a real POSIX shell runs: the framing of the console shell is real.
    dir = mkdtempSync(path.join(tmpdir(), 'hwt-update-ff-'));
    const tool = (name: string, body: string) => {
      writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(path.join(dir, name), 0o755);
    };
    tool('bootenv', 'case $2 in upgrade_available) echo 0 ;; bootlimit) echo 3 ;; *) exit 1 ;; esac');
    tool('sha256sum', 'echo "0000000000000000000000000000000000000000000000000000000000000000  $1"');
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  const ran: string[] = [];
  const shell: ConsoleShell = {
    run(command) {
      ran.push(command);
      // The profile's commands, with /proc/cmdline and /etc/os-release of a v1 board on slot A.
      const c = command
        .replace(/\/proc\/cmdline/g, path.join(dir, 'cmdline'))
        .replace(/\/etc\/os-release/g, path.join(dir, 'os-release'));
      writeFileSync(path.join(dir, 'cmdline'), 'console=ttyS0 root=/dev/vda2 hwtest.slot=A\n');
      writeFileSync(path.join(dir, 'os-release'), 'VERSION_ID=v1\n');
      const r = spawnSync('sh', ['-c', c], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
      return Promise.resolve({ code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr });
    },
  };

  async function context(dut: ScriptedDut) {
    const { console } = await setup();
    const boot = new RecordingBoot();
    boot.shell = () => Promise.resolve(shell as never);
    const attached: Record<string, string> = {};
    const ctx: SuiteContext = {
      boardName: 'unit',
      type: (await import('../../rig/catalog/board.js')).loadBoard('qemu-x86-64'),
      os: loadOsProfile(),
      console,
      power: noPower,
      boot,
      network: {
        kind: 'netns',
        leases: () => Promise.resolve(undefined),
        resolveMdns: () => Promise.reject(new Error('no mdns')),
        browseSsh: () => Promise.resolve([]),
        connect: () => Promise.resolve(dut),
      },
      hostname: 'unit',
      artifacts: new Map(),
      metric: () => {},
      skip: () => {},
      attach: (name, content) => {
        attached[name] = content;
      },
      signal: new AbortController().signal,
      options: {},
    };
    return { ctx, boot, attached };
  }

  it('removes the bundle from the board when the update fails without rebooting', async function () {
    const dut = new ScriptedDut((c) =>
      Promise.resolve(
        c.startsWith('os-update') ? { code: 1, stdout: '', stderr: 'os-update: no space left\n' } : ok(),
      ),
    );
    const { ctx } = await context(dut);
    const s = new UpdateSession(ctx);
    s.record = new (await import('../../suites/update-rollback/lib/record.js')).TestRecord(ctx);
    const before = { booted: 'A', version: 'v1', trial: false, bootenv: {}, breadcrumbs: [] };
    const err = await s.install({ bundle, how: 'unit' }, before).catch((e: Error) => e);
    expect(err).to.be.instanceOf(FailError);
    expect((err as Error).message).to.contain('no space left');
    expect(dut.puts).to.deep.equal(['/tmp/rootfs-v2.ext4.zst']);
    expect(dut.commands.slice(-1)).to.deep.equal(['rm -f /tmp/rootfs-v2.ext4.zst']);
  });

  it('power-cycles the board after a test that stopped mid-update, and says so', async function () {
    const dut = new ScriptedDut(() => Promise.resolve(ok()));
    const { ctx, boot } = await context(dut);
    const s = new UpdateSession(ctx);
    s.record = new (await import('../../suites/update-rollback/lib/record.js')).TestRecord(ctx);
    s.dirty = '4.2 cut 2/5 during write';
    s.data = { path: '/mnt/data/x', sha256: '0'.repeat(64) };
    const state = await s.ready({ skip: () => expect.fail('skipped') } as unknown as Mocha.Context, bundle);
    expect(boot.calls.slice(0, 2)).to.deep.equal(['reboot hard=true', 'reach shell']);
    expect(s.dirty).to.equal(undefined);
    expect(state).to.include({ booted: 'A', version: 'v1', trial: false });
    expect(s.rec.notes.join('\n')).to.contain(
      'the previous test (4.2 cut 2/5 during write) stopped mid-update: power-cycling',
    );
    // A bundle an earlier test may have left is removed before this one starts.
    expect(ran.some((c) => c.includes('rm -f /tmp/rootfs-v2.ext4.zst'))).to.equal(true);
  });

  it('skips, naming the earlier test, when the board does not come back after the power cycle', async function () {
    const dut = new ScriptedDut(() => Promise.resolve(ok()));
    const { ctx, boot } = await context(dut);
    const s = new UpdateSession(ctx);
    s.record = new (await import('../../suites/update-rollback/lib/record.js')).TestRecord(ctx);
    s.dirty = '2. rollback when the new system cannot boot';
    boot.reachError = new FailError('userspace not reached within 120 s');
    let skipped = false;
    const err = await s
      .ready(
        {
          skip: () => {
            skipped = true;
            throw new Error('pending');
          },
        } as unknown as Mocha.Context,
        bundle,
      )
      .catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect(skipped).to.equal(true);
    expect(s.broken)
      .to.contain('after a power cycle following "2. rollback when the new system cannot boot"')
      .and.contain('userspace not reached');
  });
});
