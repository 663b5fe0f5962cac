import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  boardDisk,
  consoleDevice,
  expectCleanEnd,
  faultBoards,
  poweredOff,
  until,
  qemuPidOf,
  qmpSocketsOf,
  replugConsole,
  startCli,
  unplugConsole,
  withQmp,
  type FaultBoardDir,
} from '../helpers/faults.js';

function hasQemu(): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => existsSync(path.join(d, 'qemu-system-x86_64')));
}

/**
 * The fault matrix on the real stack: qemu-x86-64 under TCG, its console on a real pty, the real
 * CLI in a child process. Each fault is triggered on what the run printed (a step or a test result
 * line), never on a timer. The board types are copies of qemu-x86-64 (own disk, own lock, a QMP
 * socket for the test); the hang type has short userspace and login timeouts.
 */
describe('fault matrix on a QEMU board (real faults, TCG)', function () {
  this.timeout(180_000);
  const BOARD = 'faults-x86-64';
  const HANG = 'faults-hang-x86-64';
  const THIRD = 'faults-c-x86-64';
  let boards: FaultBoardDir;
  let env: NodeJS.ProcessEnv;
  let reports: string;

  before(function () {
    if (!hasQemu()) this.skip();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-faults-'));
    boards = faultBoards(path.join(dir, 'boards'), {
      [BOARD]: {},
      [HANG]: { userspace: 10, login: 10 },
      [THIRD]: {},
    });
    env = { HW_TEST_BOARDS_DIR: boards.dir, DEBUG: 'hw-test:serial' };
    reports = path.join(dir, 'reports');
  });

  const run = (board: string, ...extra: string[]) =>
    startCli(
      ['--board', board, '--reports', reports, '--retries', '0', '--quarantine-after', '1000', ...extra],
      env,
    );
  const booted = /pass {4}boot: reaches the bootloader/;

  it('the serial device vanishes during boot and comes back: the boot goes on and passes (exit 0)', async function () {
    const r = run(BOARD);
    await r.waitFor(booted);
    const back = await withQmp(boards.qmp[BOARD], async (q) => {
      const before = await consoleDevice(q);
      await unplugConsole(q);
      // The console notices the device node is gone (its watch), then it is plugged back in.
      await r.waitFor(/vanished \(.*\), waiting for it to come back/);
      return { before, after: await replugConsole(q) };
    });
    // devpts hands out the lowest free number: the "USB serial" re-enumerates at the same path.
    if (back.after !== back.before) this.skip();
    const end = await r.done;
    expect(end.stderr).to.match(/ is back after \d+ ms/);
    const { summary } = await expectCleanEnd({
      board: BOARD,
      reports,
      ...end,
      verdict: 'pass',
      exitCode: 0,
      serialLog: true,
      disk: boardDisk(BOARD),
    });
    expect(summary.tests.map((t) => t.verdict)).to.deep.equal(Array(7).fill('pass'));
  });

  it('the serial device vanishes for good: infra (exit 3), the board powered off', async function () {
    const r = run(BOARD);
    await r.waitFor(booted);
    await withQmp(boards.qmp[BOARD], (q) => unplugConsole(q));
    const end = await r.done;
    const { summary } = await expectCleanEnd({
      board: BOARD,
      reports,
      ...end,
      verdict: 'infra',
      exitCode: 3,
      serialLog: true,
      disk: boardDisk(BOARD),
    });
    const infra = summary.tests.find((t) => t.verdict === 'infra');
    expect(infra?.message).to.match(/serial device \/dev\/pts\/\d+ vanished and did not come back within 2s/);
  });

  it('QEMU dies during the boot: infra (exit 3)', async function () {
    const r = run(BOARD);
    await r.waitFor(booted);
    process.kill(qemuPidOf(boardDisk(BOARD)), 'SIGKILL');
    const end = await r.done;
    const { summary } = await expectCleanEnd({
      board: BOARD,
      reports,
      ...end,
      verdict: 'infra',
      exitCode: 3,
      serialLog: true,
      disk: boardDisk(BOARD),
    });
    expect(summary.tests.find((t) => t.verdict === 'infra')?.message).to.match(
      /vanished and did not come back/,
    );
    // The boot still counts what it saw before the fault: the bootloader passed.
    expect(summary.tests[0]?.verdict).to.equal('pass');
  });

  it('the board hangs after the kernel starts (QMP stop): fail (exit 1), the image is at fault', async function () {
    const r = run(HANG);
    await r.waitFor(/pass {4}boot: starts the kernel/);
    const pid = qemuPidOf(boardDisk(HANG));
    const socket = qmpSocketsOf(pid).find((s) => s === boards.qmp[HANG]);
    expect(socket, 'the test QMP socket is on the QEMU command line').to.be.a('string');
    await withQmp(socket!, (q) => q.execute('stop'));
    const end = await r.done;
    const { summary, dir } = await expectCleanEnd({
      board: HANG,
      reports,
      ...end,
      verdict: 'fail',
      exitCode: 1,
      serialLog: true,
      disk: boardDisk(HANG),
    });
    const failed = summary.tests.filter((t) => t.verdict === 'fail');
    expect(failed.map((t) => t.title)).to.deep.equal(['reaches userspace']);
    expect(failed[0].message).to.match(/userspace not reached within 10 s/);
    expect(readFileSync(path.join(dir, 'serial.log'), 'utf8')).to.match(/Linux version/);
  });

  for (const [when, pattern] of [
    ['flash', new RegExp(`${BOARD}: flash\\.\\.\\.`)],
    // The bootloader was seen: the kernel is loading.
    ['boot', booted],
    ['suite', /pass {4}boot: logs in on the console/],
  ] as const) {
    it(`SIGTERM during the ${when}: interrupted (exit 130), powered off, unlocked, report written`, async function () {
      const r = run(BOARD);
      await r.waitFor(pattern);
      r.kill('SIGTERM');
      const end = await r.done;
      expect(end.stderr).to.match(/SIGTERM: powering off, releasing the board and writing the report/);
      await expectCleanEnd({
        board: BOARD,
        reports,
        ...end,
        verdict: 'interrupted',
        exitCode: 130,
        serialLog: true,
        disk: boardDisk(BOARD),
      });
    });
  }

  it('SIGKILL of the controller: its QEMU dies with it, the next run takes over the lock and proceeds', async function () {
    const first = run(BOARD);
    await first.waitFor(booted);
    const killed = await (first.kill('SIGKILL'), first.done);
    expect(killed.signal).to.equal('SIGKILL');
    // No teardown ran: QEMU got its parent-death signal, and the kernel freed the lock (its
    // holder file stays: checking the lock here would take it over and remove that evidence).
    await until(() => poweredOff(boardDisk(BOARD)), "the dead run's QEMU to go");
    const next = run(BOARD);
    await next.waitFor(new RegExp(`${BOARD}: flash\\.\\.\\.`));
    next.kill('SIGTERM');
    const end = await next.done;
    expect(end.stderr).to.match(
      new RegExp(`the previous holder \\(pid ${first.pid} on .*\\) is gone; taking over its lock`),
    );
    await expectCleanEnd({
      board: BOARD,
      reports,
      ...end,
      verdict: 'interrupted',
      exitCode: 130,
      serialLog: true,
      disk: boardDisk(BOARD),
    });
  });

  it('two runs for the same board at once: the second waits, then gives up as infra (exit 3) naming the holder', async function () {
    const second = path.join(reports, 'second');
    const first = run(BOARD);
    await first.waitFor(new RegExp(`${BOARD}: prepare\\.\\.\\.`));
    const other = await startCli(
      [
        '--board',
        BOARD,
        '--reports',
        second,
        '--retries',
        '0',
        '--lock-timeout',
        '1',
        '--quarantine-after',
        '1000',
      ],
      env,
    ).done;
    expect(other.stderr).to.match(new RegExp(`${BOARD} is in use by pid ${first.pid} on `));
    expect(other.stderr).to.match(
      new RegExp(`board ${BOARD} is busy: held by pid ${first.pid} on .*waited 1 s`),
    );
    const { summary } = await expectCleanEnd({
      board: BOARD,
      reports: second,
      code: other.code,
      stderr: other.stderr,
      verdict: 'infra',
      exitCode: 3,
      // The lock was never held: the board was not touched.
      serialLog: false,
      lockFree: false,
    }).catch((err: unknown) => {
      first.kill('SIGTERM');
      throw err;
    });
    expect(summary.steps.map((s) => s.name)).to.deep.equal(['reserve']);
    // The first run was not disturbed: it goes on until it is stopped.
    expect(first.stderr()).to.not.match(/ (error|infra) in /);
    first.kill('SIGTERM');
    const end = await first.done;
    await expectCleanEnd({
      board: BOARD,
      reports,
      ...end,
      verdict: 'interrupted',
      exitCode: 130,
      serialLog: true,
      disk: boardDisk(BOARD),
    });
  });

  it('three boards in parallel from one command: a report folder each and the combined table', async function () {
    const all = [BOARD, HANG, THIRD];
    const par = path.join(reports, 'parallel');
    const r = await startCli(
      // Three TCG boards on a 2-core host: the hang type's 10 s to userspace is for a lone board
      // (11-15 s seen here with three at once), so this run gives every board the normal limits.
      [
        '--board',
        all.join(','),
        '--parallel',
        '3',
        '--timeout',
        'userspace=60,login=60',
        '--reports',
        par,
        '--quarantine-after',
        '1000',
      ],
      { HW_TEST_BOARDS_DIR: boards.dir },
    ).done;
    expect(r.code, r.stderr).to.equal(0);
    for (const b of all) {
      const { summary } = await expectCleanEnd({
        board: b,
        reports: par,
        ...r,
        verdict: 'pass',
        exitCode: 0,
        serialLog: true,
        disk: boardDisk(b),
      });
      expect(summary.tests).to.have.length(7);
      expect(r.stdout).to.match(new RegExp(`^${b}\\s+pass\\s+\\d+\\.\\d s\\s+\\d+ MB/s\\s+PASS$`, 'm'));
    }
    expect(r.stdout).to.match(/^BOARD\s+BOOT\s+BOOT TIME\s+FLASH\s+VERDICT$/m);
    expect(r.stdout).to.match(/^combined summary: .*combined-\d{8}T\d{6}\.json$/m);
  });
});
