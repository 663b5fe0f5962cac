import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerSecret } from '../../rig/log.js';
import { boardHealth, clearQuarantine, recordVerdict } from '../../rig/runner/health.js';
import { lockBoard } from '../../rig/runner/lock.js';
import { ROOT, runCli } from '../helpers/cli.js';

const tmpFile = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'hwt-health-')), 'health.json');

describe('board health and quarantine', function () {
  it('quarantines after N consecutive infra results; a fail or a pass resets the count', async function () {
    const f = tmpFile();
    await recordVerdict(f, 'b', 'infra', 'mux did not switch', 3);
    await recordVerdict(f, 'b', 'infra', 'mux did not switch', 3);
    await recordVerdict(f, 'b', 'fail', 'kernel panic', 3);
    expect(await boardHealth(f, 'b')).to.include({ consecutiveInfra: 0, quarantined: false });
    for (let i = 0; i < 3; i++) await recordVerdict(f, 'b', 'infra', 'serial device gone', 3);
    const h = await boardHealth(f, 'b');
    expect(h).to.include({ consecutiveInfra: 3, quarantined: true });
    expect(h.reason).to.match(/3 consecutive infra failures; last: serial device gone/);
    // A later pass on a quarantined board (a health check) is what lifts it, not a run.
    await clearQuarantine(f, 'b');
    expect(await boardHealth(f, 'b')).to.include({ quarantined: false, consecutiveInfra: 0 });
  });

  it('skips a quarantined board with verdict infra (exit 3), naming the health check, without touching it', async function () {
    this.timeout(20_000);
    const f = tmpFile();
    writeFileSync(
      f,
      JSON.stringify({
        'qemu-x86-64': {
          consecutiveInfra: 3,
          quarantined: true,
          since: '2026-11-24T03:00:00Z',
          reason: '3 consecutive infra failures',
        },
      }),
    );
    const reports = mkdtempSync(path.join(os.tmpdir(), 'hwt-health-rep-'));
    const r = await runCli(['--board', 'qemu-x86-64', '--reports', reports], { env: { HW_TEST_HEALTH: f } });
    expect(r.code, r.stderr).to.equal(3);
    expect(r.stdout).to.match(
      /qemu-x86-64 is quarantined since 2026-11-24T03:00:00Z .*hw-test health-check --board qemu-x86-64/,
    );
    expect(r.stderr).to.not.match(/flash\.\.\./);
    // Skipping is not another infra failure of the board.
    expect((await boardHealth(f, 'qemu-x86-64')).consecutiveInfra).to.equal(3);
  });
});

describe('board health: only the rig counts, and updates are atomic', function () {
  this.timeout(60_000);

  it('concurrent updates from several processes (--parallel) are never lost', async function () {
    const f = tmpFile();
    const health = path.join(ROOT, 'dist/rig/runner/health.js');
    const N = 6;
    const EACH = 15;
    const script = (k: number) =>
      `const { recordVerdict } = await import(${JSON.stringify(health)});` +
      `for (let i = 0; i < ${EACH}; i++) await recordVerdict(${JSON.stringify(f)}, 'board-${k}', 'infra', 'x', 1000);`;
    const runs = Array.from(
      { length: N },
      (_, k) =>
        new Promise<number | null>((resolve) => {
          const c = spawn(process.execPath, ['--input-type=module', '-e', script(k)], { stdio: 'inherit' });
          c.on('close', resolve);
        }),
    );
    expect(await Promise.all(runs)).to.deep.equal(Array(N).fill(0));
    const all = JSON.parse(readFileSync(f, 'utf8')) as Record<string, { consecutiveInfra: number }>;
    expect(Object.fromEntries(Object.entries(all).map(([b, h]) => [b, h.consecutiveInfra]))).to.deep.equal(
      Object.fromEntries(Array.from({ length: N }, (_, k) => [`board-${k}`, EACH])),
    );
  });

  it("an infra result that is not the board rig's fault is recorded without a strike", async function () {
    const f = tmpFile();
    await recordVerdict(f, 'b', 'infra', 'mux did not switch', 3);
    for (let i = 0; i < 5; i++) await recordVerdict(f, 'b', 'infra', 'board b is busy', 3, { strike: false });
    expect(await boardHealth(f, 'b')).to.include({
      consecutiveInfra: 1,
      quarantined: false,
      lastVerdict: 'infra',
    });
  });

  it('health.json holds no secret: a quarantine reason quoting a URL password or a PSK is masked', async function () {
    const f = tmpFile();
    registerSecret('psk-in-the-reason-42');
    await recordVerdict(
      f,
      'b',
      'infra',
      'http://user:hunter2-pw@lab.example/os.img?X-Amz-Signature=deadbeef: psk-in-the-reason-42',
      1,
    );
    const text = readFileSync(f, 'utf8');
    expect(text).to.include('quarantined');
    expect(text).to.not.match(/hunter2-pw|deadbeef|psk-in-the-reason-42/);
  });

  it('a run refused because the board is busy (--lock-timeout) is no strike: three do not quarantine it', async function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-busy-'));
    const BOARD = 'busy-x86-64';
    writeFileSync(
      path.join(dir, `${BOARD}.yaml`),
      readFileSync(path.join(ROOT, 'boards/qemu-x86-64.yaml'), 'utf8').replace(
        /^name: .*$/m,
        `name: ${BOARD}`,
      ),
    );
    const f = path.join(dir, 'health.json');
    const env = { HW_TEST_BOARDS_DIR: dir, HW_TEST_HEALTH: f, HW_TEST_LOCK_DIR: path.join(dir, 'locks') };
    const held = await lockBoard(BOARD, { timeoutMs: 0, env });
    try {
      for (let i = 0; i < 4; i++) {
        const r = await runCli(['--board', BOARD, '--lock-timeout', '0', '--reports', path.join(dir, 'r')], {
          env,
        });
        expect(r.code, r.stderr).to.equal(3);
        expect(r.stdout + r.stderr).to.match(
          new RegExp(`board ${BOARD} is busy: held by pid ${process.pid}`),
        );
        expect(r.stdout).to.not.match(/quarantined/);
      }
    } finally {
      await held.release();
    }
    expect(await boardHealth(f, BOARD)).to.include({ consecutiveInfra: 0, quarantined: false });
  });
});
