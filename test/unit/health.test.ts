import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { boardHealth, clearQuarantine, recordVerdict } from '../../rig/runner/health.js';
import { runCli } from '../helpers/cli.js';

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
