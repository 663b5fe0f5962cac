import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureImage } from '../../rig/image/build.js';
import type { RunSummary, TestResult } from '../../rig/report/model.js';
import { ROOT, TEST_HEALTH, runCli } from '../helpers/cli.js';
import { spawn } from 'node:child_process';
import { latestRun } from '../helpers/faults.js';
import { netnsMissing } from './net-helpers.js';
import { findSecrets } from '../helpers/secrets.js';

/**
 * The wifi suite on real QEMU boards with a simulated radio: the rig's access point runs on the
 * board's second radio (docs/wiring.md), the board joins with its own WiFi start-up. The positive
 * run on qemu-x86-64 is in net-secrets.test.ts (one boot for the network and wifi suites and the
 * secret search); here: qemu-armv7 joining a lab's own AP (fixed mode) through the virtual rig,
 * and the two ways a board must fail to join, each of them one boot with short waits.
 */
describe('wifi suite on virtual boards (QEMU, simulated radios)', function () {
  this.timeout(20 * 60_000);
  let reports: string;
  let boardsDir: string;

  before(function () {
    if (netnsMissing()) this.skip();
    // Short waits for the runs that must fail: a board that never joins costs seconds, not minutes.
    boardsDir = mkdtempSync(path.join(os.tmpdir(), 'hwt-wifi-boards-'));
    let y = readFileSync(path.join(ROOT, 'boards', 'qemu-x86-64.yaml'), 'utf8').replace(
      /^name: .*$/m,
      'name: qemu-x86-64-wifi',
    );
    y = y.replace(/^ {2}dhcp: \d+$/m, '  dhcp: 25');
    writeFileSync(path.join(boardsDir, 'qemu-x86-64-wifi.yaml'), y);
  });
  beforeEach(() => (reports = mkdtempSync(path.join(os.tmpdir(), 'hwt-wifi-'))));
  // A failed run's reports stay for a look (the path is in the failure); a passed one goes.
  afterEach(function () {
    if (this.currentTest?.state === 'passed') rmSync(reports, { recursive: true, force: true });
  });
  after(() => {
    if (boardsDir) rmSync(boardsDir, { recursive: true, force: true });
  });

  const byStep = (s: RunSummary, n: number): TestResult => {
    const t = s.tests.find((x) => x.suite === 'wifi' && x.title.startsWith(`${n}: `));
    expect(t, `step ${n} in ${s.tests.map((x) => x.title).join(' | ')}`).to.exist;
    return t!;
  };

  it("qemu-armv7 behind the virtual rig joins the lab's own AP (fixed mode, HW_TEST_WIFI_PSK), and the passphrase is in no report", async () => {
    const psk = randomBytes(15).toString('base64url');
    const lab = path.join(reports, 'lab.yaml');
    writeFileSync(
      lab,
      [
        'boards:',
        '  wifi-armv7-rig:',
        '    type: qemu-armv7',
        '    power: { driver: sim-gpio-relay, line: 17, activeLow: true, offTimeMs: 200 }',
        '    mux: { driver: virtual-mux, select: 22, timeoutMs: 5000 }',
        '    serial: { device: qemu }',
        '    wifi: { ssid: hwt-lab-ap, subnet: 10.77.5.0/24, rigAddress: 10.77.5.1 }',
        '',
      ].join('\n'),
    );
    const r = await runCli(
      ['--board', 'wifi-armv7-rig', '--lab', lab, '--suite', 'wifi', '--reports', reports],
      {
        env: { HW_TEST_WIFI_PSK: psk },
      },
    );
    expect(r.code, r.stderr).to.equal(0);
    const { dir, summary } = latestRun(reports, 'wifi-armv7-rig');
    expect(summary.tests.map((t) => t.verdict)).to.deep.equal(['pass', 'pass', 'pass', 'pass']);
    const assoc = byStep(summary, 1)
      .attachments.map((a) => `${a.name}: ${a.content ?? ''}`)
      .join('\n');
    expect(assoc).to.match(/association \(board\): hwt-lab-ap 02:00:00:00:01:00 via iw on wlan0/);
    expect(assoc).to.match(/association \(access point\): 02:00:00:00:00:00 \[AUTH\]\[ASSOC\]\[AUTHORIZED\]/);
    expect(JSON.stringify(byStep(summary, 2).attachments)).to.match(
      /10\.77\.5\.1\d\d, leased to 02:00:00:00:00:00/,
    );
    expect(byStep(summary, 4).metrics?.wifiThroughputMBps).to.be.greaterThan(0);
    expect(findSecrets(dir, [psk])).to.deep.equal([]);
    expect(r.stdout + r.stderr).to.not.include(psk);
  });

  it("a wrong passphrase on the AP fails step 1 with verdict fail, quoting hostapd's reason", async () => {
    const r = await runNode(
      path.join(ROOT, 'dist', 'test', 'helpers', 'run-board.js'),
      [
        JSON.stringify({
          board: 'qemu-x86-64-wifi',
          suites: ['wifi'],
          reportsDir: reports,
          wifiApPassphrase: 'not-the-one-in-the-image',
        }),
      ],
      { HW_TEST_BOARDS_DIR: boardsDir },
    );
    expect(r.code, r.stderr).to.equal(1);
    const { summary } = latestRun(reports, 'qemu-x86-64-wifi');
    expect(summary.verdict).to.equal('fail');
    const join = byStep(summary, 1);
    expect(join.verdict).to.equal('fail');
    expect(join.message).to.match(/hostapd: .*AP-STA-POSSIBLE-PSK-MISMATCH 02:00:00:00:00:00/);
    for (const n of [2, 3, 4]) expect(byStep(summary, n).skipReason).to.equal('not run: step "1" failed');
  });

  it('an image whose WiFi start-up ignores the provisioned credentials fails the suite (verdict fail)', async () => {
    const image = (await ensureImage('x86_64', 'wifi-ignores-config')).image;
    const r = await runCli(
      ['--board', 'qemu-x86-64-wifi', '--image', image, '--suite', 'wifi', '--reports', reports],
      { env: { HW_TEST_BOARDS_DIR: boardsDir } },
    );
    expect(r.code, r.stderr).to.equal(1);
    const { summary } = latestRun(reports, 'qemu-x86-64-wifi');
    expect(summary.verdict).to.equal('fail');
    const join = byStep(summary, 1);
    expect(join.verdict).to.equal('fail');
    // The radio works and the supplicant runs, on a network that is not the rig's.
    expect(join.message).to.match(/wlan0 is not associated: `iw dev wlan0 link` \(exit 0\): Not connected\./);
    expect(join.message).to.match(/hostapd: nothing about it/);
    for (const n of [2, 3, 4]) expect(byStep(summary, n).verdict).to.equal('skipped');
  });
});

/** A node script in a child process, with the test's board health file; resolves with its exit. */
function runNode(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', script, ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', HW_TEST_HEALTH: TEST_HEALTH, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}
