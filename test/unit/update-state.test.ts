import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadOsProfile, type OsProfile } from '../../rig/catalog/os-profile.js';
import { FailError, InputError } from '../../rig/errors.js';
import type { CommandResult, ConsoleShell } from '../../suites/fixture.js';
import {
  fileSha256,
  readBoardState,
  shellRunner,
  unwrapPrefixed,
  type BoardState,
  type CommandRunner,
} from '../../suites/update-rollback/lib/board-state.js';
import {
  judgeAfterCut,
  newBreadcrumbs,
  rollbackProblems,
  updateProblems,
} from '../../suites/update-rollback/lib/consistency.js';
import { missingCommands, renderCommand, updateSettings } from '../../suites/update-rollback/lib/settings.js';

const os = loadOsProfile();
const settings = updateSettings(os);

/** Answers as the reference OS does (outputs recorded on a v1 board under QEMU). */
function recordedRunner(
  answers: Record<string, Partial<CommandResult>>,
): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run(command) {
      calls.push(command);
      const a = answers[command];
      if (!a) return Promise.resolve({ code: 127, stdout: '', stderr: `sh: ${command}: not found` });
      return Promise.resolve({ code: a.code ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '' });
    },
  };
}

const BOOTED = os.commands.booted!;
const V1_ON_A: Record<string, Partial<CommandResult>> = {
  [BOOTED]: { stdout: 'A' },
  'bootenv get active_slot': { stdout: 'A' },
  '. /etc/os-release && echo "$VERSION_ID"': { stdout: 'v1' },
  'bootenv get upgrade_available': { stdout: '0' },
  'bootenv get bootcount': { stdout: '0' },
  'bootenv get bootlimit': { stdout: '3' },
  // Unset on a fresh image: bootenv-grub's awk exits 1 with no output.
  'bootenv get rollback_altboot': { code: 1 },
  'ls /mnt/state/rollback/ 2>/dev/null': { stdout: '' },
};

function state(over: Partial<BoardState>): BoardState {
  return {
    booted: over.booted ?? 'A',
    version: over.version ?? 'v1',
    trial: over.trial ?? false,
    bootenv: { upgrade_available: over.trial ? '1' : '0', ...over.bootenv },
    breadcrumbs: over.breadcrumbs ?? [],
  };
}

describe('update: board state through the OS profile', function () {
  it('reads the booted slot, version, trial, bootloader variables and breadcrumbs with the profile commands', async function () {
    const runner = recordedRunner(V1_ON_A);
    const s = await readBoardState(runner, os, settings);
    expect(s).to.deep.equal({
      booted: 'A',
      version: 'v1',
      trial: false,
      bootenv: { active_slot: 'A', upgrade_available: '0', bootcount: '0', bootlimit: '3' },
      breadcrumbs: [],
      bootlimit: 3,
    });
    expect(runner.calls).to.include('bootenv get bootlimit');
  });

  it("reads the trial from the profile's trial command when it has one, and refuses an answer that is not 1 or 0", async function () {
    const withTrial: OsProfile = { ...os, commands: { ...os.commands, trial: 'rauc-trial' } };
    expect(
      (
        await readBoardState(
          recordedRunner({ ...V1_ON_A, 'rauc-trial': { stdout: '1\n' } }),
          withTrial,
          settings,
        )
      ).trial,
    ).to.equal(true);
    expect(
      (
        await readBoardState(
          recordedRunner({ ...V1_ON_A, 'rauc-trial': { stdout: '0' } }),
          withTrial,
          settings,
        )
      ).trial,
    ).to.equal(false);
    await readBoardState(
      recordedRunner({ ...V1_ON_A, 'rauc-trial': { stdout: 'good' } }),
      withTrial,
      settings,
    ).then(
      () => expect.fail('no error'),
      (e: Error) => expect(e.message).to.contain('commands.trial: expected 1 or 0, got "good"'),
    );
    // No trial command and no bootenvGet: the OS gives no way to tell, the state reads committed.
    const bare: OsProfile = { ...os, commands: { ...os.commands, bootenvGet: undefined } };
    const s = await readBoardState(recordedRunner(V1_ON_A), bare, settings);
    expect(s.trial).to.equal(false);
    expect(s.bootenv).to.deep.equal({});
  });

  it('reads the boot limit from the profile: a number, a command, or a bootloader variable', async function () {
    const runner = () => recordedRunner({ ...V1_ON_A, 'echo 1': { stdout: '1' } });
    expect((await readBoardState(runner(), os, settings)).bootlimit).to.equal(3);
    const cmd: OsProfile = { ...os, commands: { ...os.commands, bootlimit: 'echo 1' } };
    expect((await readBoardState(runner(), cmd, settings)).bootlimit).to.equal(1);
    const fixed: OsProfile = { ...os, update: { ...os.update, bootlimit: 2 } };
    expect((await readBoardState(runner(), fixed, updateSettings(fixed))).bootlimit).to.equal(2);
    const none: OsProfile = { ...os, commands: { ...os.commands, bootenvGet: undefined } };
    expect((await readBoardState(runner(), none, settings)).bootlimit).to.equal(undefined);
  });

  it('lists breadcrumbs, and fails naming the command when the booted system cannot be read', async function () {
    const runner = recordedRunner({
      ...V1_ON_A,
      'ls /mnt/state/rollback/ 2>/dev/null': {
        stdout: 'rollback-health-triggered\nrollback-altboot-triggered\n',
      },
    });
    expect((await readBoardState(runner, os, settings)).breadcrumbs).to.deep.equal([
      'rollback-altboot-triggered',
      'rollback-health-triggered',
    ]);
    const broken = recordedRunner({
      ...V1_ON_A,
      [BOOTED]: { code: 1, stderr: 'sed: /proc/cmdline: No such file or directory' },
    });
    try {
      await readBoardState(broken, os, settings);
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(FailError);
      expect((err as Error).message)
        .to.contain('reading the booted slot or deployment')
        .and.contain('/proc/cmdline')
        .and.contain('No such file');
    }
  });

  it('checksums a file with the profile command, and refuses output without a sha256', async function () {
    const sum = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const runner = recordedRunner({ 'sha256sum /mnt/data/x.bin': { stdout: `${sum}  /mnt/data/x.bin` } });
    expect(await fileSha256(runner, os, '/mnt/data/x.bin')).to.equal(sum);
    const bad = recordedRunner({ 'sha256sum /mnt/data/x.bin': { stdout: 'sha256sum: applet not found' } });
    await fileSha256(bad, os, '/mnt/data/x.bin').then(
      () => expect.fail('no error'),
      (e: Error) => expect(e.message).to.contain('no sha256'),
    );
  });
});

describe('update: console shell framing', function () {
  let dir: string;
  before(function () {
    // Stand-ins for the board's tools, run by a real POSIX shell: the framing is what is tested.
    dir = mkdtempSync(path.join(tmpdir(), 'hwt-update-'));
    writeFileSync(
      path.join(dir, 'bootenv'),
      '#!/bin/sh\ncase $2 in active_slot) echo B ;; upgrade_available) echo 1 ;; *) exit 1 ;; esac\n',
    );
    chmodSync(path.join(dir, 'bootenv'), 0o755);
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A console shell: runs the line with sh and, like a real console, interleaves kernel and init messages. */
  const noisyShell: () => ConsoleShell = () => ({
    run(command) {
      const r = spawnSync('sh', ['-c', command], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
      const lines = r.stdout.split('\n');
      lines.splice(
        1,
        0,
        '[   41.871225] random: crng init done',
        'hw-test: health-check passed slot=B: update committed',
      );
      return Promise.resolve({ code: r.status ?? 1, stdout: lines.join('\n'), stderr: '' });
    },
  });

  it('keeps only the command output, with its own exit code, through kernel messages', async function () {
    const runner = shellRunner(noisyShell());
    expect(await runner.run('bootenv get active_slot')).to.deep.equal({ code: 0, stdout: 'B', stderr: '' });
    expect(await runner.run('bootenv get nothing')).to.deep.equal({ code: 1, stdout: '', stderr: '' });
    expect(await runner.run("printf 'no newline'")).to.deep.equal({
      code: 0,
      stdout: 'no newline',
      stderr: '',
    });
    expect((await runner.run('echo out; echo err >&2; exit 3')).code).to.equal(3);
  });

  it('is needed: the raw console output would give a kernel message as the value', async function () {
    const raw = await noisyShell().run('bootenv get active_slot; bootenv get upgrade_available');
    expect(raw.stdout).to.contain('random: crng init done');
    expect(unwrapPrefixed(raw).stdout, 'without the framing nothing is kept').to.equal('');
  });
});

describe('update: judging the booted system, slot or deployment alike', function () {
  for (const [kind, old, next, other] of [
    ['A/B slots', 'A', 'B', 'C'],
    ['OSTree deployments', '3f1c9a.0', '9b22e0.0', '77aa01.0'],
  ] as const) {
    const before = state({ booted: old, version: 'v1' });
    const cases: [string, BoardState, string][] = [
      ['the old system', state({ booted: old, version: 'v1' }), 'old'],
      ['the update, committed', state({ booted: next, version: 'v2' }), 'new-committed'],
      ['the update on trial', state({ booted: next, version: 'v2', trial: true }), 'new-trial'],
      [
        'the old system with a trial pending',
        state({ booted: old, version: 'v1', trial: true }),
        'inconsistent',
      ],
      [
        'the old system with another version (written in place)',
        state({ booted: old, version: 'v2' }),
        'inconsistent',
      ],
      ['a new system with the old version', state({ booted: next, version: 'v1' }), 'inconsistent'],
      ['any other new system with the update', state({ booted: other, version: 'v2' }), 'new-committed'],
    ];
    for (const [name, after, expected] of cases) {
      it(`${kind}: ${name}: ${expected}`, function () {
        const j = judgeAfterCut(before, 'v2', after);
        expect(j.state, j.reason).to.equal(expected);
        expect(j.reason).to.contain(`booted=${after.booted}`);
      });
    }
  }

  it('accepts a new system of any version when the run does not know the bundle version, and says so', function () {
    const j = judgeAfterCut(state({ booted: 'A' }), undefined, state({ booted: 'B', version: 'v7' }));
    expect(j.state).to.equal('new-committed');
    expect(j.reason).to.contain('not checked');
  });

  it('checks a completed update: another system, the bundle version, committed', function () {
    const before = state({ booted: 'A', version: 'v1' });
    expect(updateProblems(before, state({ booted: 'B', version: 'v2' }), 'v2')).to.deep.equal([]);
    const stuck = updateProblems(before, state({ booted: 'A', version: 'v2', trial: true }), 'v2');
    expect(stuck.join('\n'))
      .to.contain('still runs A')
      .and.contain('did not switch, or wrote the running system')
      .and.contain('still on trial');
    expect(updateProblems(before, state({ booted: 'B', version: 'v1' }), 'v2')).to.deep.equal([
      "version is v1, expected the update's v2",
    ]);
  });

  it('checks a rollback: the old system, the old version, nothing on trial', function () {
    const before = state({ booted: 'A', version: 'v1' });
    expect(rollbackProblems(before, state({ booted: 'A', version: 'v1' }))).to.deep.equal([]);
    const bad = rollbackProblems(before, state({ booted: 'B', version: 'v2', trial: true }));
    expect(bad).to.have.length(3);
    expect(bad.join('\n')).to.contain('expected A').and.contain('expected v1').and.contain('trial');
  });

  it('tells new breadcrumbs from those left before', function () {
    const b = state({ breadcrumbs: ['rollback-altboot-triggered'] });
    const a = state({ breadcrumbs: ['rollback-altboot-triggered', 'rollback-health-triggered'] });
    expect(newBreadcrumbs(b, a)).to.deep.equal(['rollback-health-triggered']);
  });
});

describe('update: OS profile settings', function () {
  it('reads the reference profile, which has every command the suite needs', function () {
    expect(missingCommands(os)).to.deep.equal([]);
    expect(settings.bundleDir).to.equal('/tmp');
    expect(settings.breadcrumbs).to.deep.equal({
      altboot: 'rollback-altboot-triggered',
      health: 'rollback-health-triggered',
    });
    expect(
      settings.markers.bootAttempt!.exec('hw-test: bootloader slot=B bootcount=2 upgrade_available=1')
        ?.groups,
    ).to.include({
      slot: 'B',
      bootcount: '2',
    });
  });

  it('defaults what an older profile lacks, and names a missing command or a bad pattern', function () {
    const old: OsProfile = {
      ...os,
      commands: { version: 'cat /etc/version' },
      update: { repeatSameVersion: 'refused' },
    };
    expect(missingCommands(old)).to.deep.equal(['booted', 'update', 'reboot', 'sha256']);
    // The old name of `booted` still counts.
    expect(missingCommands({ ...old, commands: { ...old.commands, activeSlot: 'x' } })).to.not.include(
      'booted',
    );
    const s = updateSettings(old);
    expect(s.trialVariable).to.equal('upgrade_available');
    expect(s.repeatSameVersion).to.equal('refused');
    expect(() => updateSettings({ ...os, update: { markers: { reset: '(' } } })).to.throw(
      InputError,
      /update\.markers\.reset/,
    );
    // An empty optional marker: the OS prints no such line; an empty required one is refused.
    expect(updateSettings({ ...os, update: { markers: { verifying: '' } } }).markers.verifying).to.equal(
      undefined,
    );
    expect(() => updateSettings({ ...os, update: { markers: { userspace: '' } } })).to.throw(
      InputError,
      /cannot be empty/,
    );
    expect(s.bootlimit).to.deep.equal({ variable: 'bootlimit' });
    expect(updateSettings({ ...os, update: { bootlimit: 1 } }).bootlimit).to.deep.equal({ value: 1 });
  });

  it('fills command templates, quoting values and dropping an unknown checksum', function () {
    expect(renderCommand(os.commands.update!, { file: '/tmp/rootfs-v2.ext4.zst', sha256: 'ab12' })).to.equal(
      'os-update /tmp/rootfs-v2.ext4.zst --sha256 ab12',
    );
    expect(renderCommand(os.commands.update!, { file: '/tmp/a b' })).to.equal("os-update '/tmp/a b'");
    // The shell's own ${var} is not a placeholder.
    expect(renderCommand('l=$(fw_printenv -n BOOT_${b}_LEFT) {file}', { file: 'x' })).to.equal(
      'l=$(fw_printenv -n BOOT_${b}_LEFT) x',
    );
    expect(renderCommand('x --sha256={sha256} y', {})).to.equal('x y');
    expect(() => renderCommand('bootenv get {name}', {})).to.throw(InputError, /\{name\}/);
  });
});
