import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { boardHealth } from '../../rig/runner/health.js';
import { runCli } from '../helpers/cli.js';
import { startCli } from '../helpers/faults.js';

const A = 'hc-x86-64-a';
const B = 'hc-x86-64-b';

/** A two-board virtual rig (simulated relays and SD muxes, QEMU boards), each on a chip of its own. */
function lab(dir: string): string {
  const board = (chip: number) => `    type: qemu-x86-64
    power: { driver: sim-gpio-relay, chip: sim-gpiochip${chip}, line: 17, activeLow: true, offTimeMs: 200 }
    mux: { driver: virtual-mux, chip: sim-gpiochip${chip}, select: 22, hostLevel: 1, timeoutMs: 5000 }
    serial: { device: qemu }
`;
  const file = path.join(dir, 'lab.yaml');
  writeFileSync(
    file,
    `description: health-check test rig\nboards:\n  ${A}:\n${board(0)}  ${B}:\n${board(1)}`,
  );
  return file;
}

/** The QEMU that runs a lab board (`-name BOARD`), from /proc. */
function qemuOf(board: string): number {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv[0]?.includes('qemu-system') && argv[argv.indexOf('-name') + 1] === board) return Number(e);
  }
  throw new Error(`no QEMU runs ${board}`);
}

/**
 * Quarantine end to end on the virtual rig: real infra faults (the board's QEMU killed during its
 * boot, as a dead USB hub would cut a real one) quarantine a board; the nightly over every board
 * of the lab skips it with the reason and runs the other; `hw-test health-check` boots it through
 * the rig and lifts the quarantine.
 */
describe('health check: quarantine through real infra faults, the nightly skips, a health check lifts (virtual rig, TCG)', function () {
  this.timeout(15 * 60_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let labFile: string;
  let health: string;

  before(function () {
    if (!(process.env.PATH ?? '').split(':').some((d) => existsSync(path.join(d, 'qemu-system-x86_64'))))
      this.skip();
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-healthcheck-'));
    labFile = lab(dir);
    health = path.join(dir, 'health.json');
    env = { HW_TEST_HEALTH: health };
  });

  const reports = () => path.join(dir, 'reports');

  it('two infra faults in a row quarantine the board (--quarantine-after 2)', async function () {
    for (const n of [1, 2]) {
      const r = startCli(
        ['--board', A, '--lab', labFile, '--reports', reports(), '--retries', '0', '--quarantine-after', '2'],
        env,
      );
      await r.waitFor(/pass {4}boot: reaches the bootloader/);
      process.kill(qemuOf(A), 'SIGKILL');
      const end = await r.done;
      expect(end.code, end.stderr).to.equal(3);
      const h = await boardHealth(health, A);
      expect(h.consecutiveInfra).to.equal(n);
      expect(h.quarantined).to.equal(n === 2);
    }
    expect((await boardHealth(health, A)).reason).to.match(/^2 consecutive infra failures; last: .*vanished/);
  });

  it('the nightly (--board all) skips the quarantined board with the reason, and runs the other', async function () {
    const latestA = path.join(reports(), A, 'latest');
    const before = readlinkSync(latestA);
    const r = await runCli(
      [
        '--board',
        'all',
        '--lab',
        labFile,
        '--suite',
        'boot',
        '--grep',
        'reaches the bootloader',
        '--reports',
        reports(),
      ],
      { env },
    );
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.code, out).to.equal(3);
    expect(r.stdout).to.match(
      new RegExp(
        `${A}: INFRA \\(no tests\\): ${A} is quarantined since .* \\(2 consecutive infra failures; last: .*\\): run hw-test health-check --board ${A}`,
      ),
    );
    expect(r.stdout).to.match(new RegExp(`${B}: PASS \\(1 pass\\)`));
    // The quarantined board was not touched: its step list is the refusal alone.
    expect(out).to.not.match(new RegExp(`${A}: (reserve|flash)\\.\\.\\.`));
    expect((await boardHealth(health, A)).quarantined).to.equal(true);
    // The refusal has a report of its own, but `latest` stays on the last run that tested the board.
    expect(readlinkSync(latestA)).to.equal(before);
    expect(readdirSync(path.join(reports(), A)).filter((d) => d !== 'latest')).to.have.length(3);
  });

  it('hw-test health-check boots it through the rig and lifts the quarantine', async function () {
    const r = await runCli(['health-check', '--board', A, '--lab', labFile, '--reports', reports()], { env });
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect(r.stdout).to.include(`${A}: healthy; quarantine lifted`);
    expect(await boardHealth(health, A)).to.include({ quarantined: false, consecutiveInfra: 0 });
  });
});
