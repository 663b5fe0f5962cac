import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT, runCli } from '../helpers/cli.js';
import { latestRun } from '../helpers/faults.js';

const BOARD = 'miss-x86-64';

/**
 * Nothing tested is not a pass, end to end: a real run on a board type without a WiFi radio (the
 * reference x86 board with `wifi` taken out of its capabilities) asked for boot and wifi. Boot
 * passes, every wifi test skips with the reason: the run is a MISS, exit 4, in every report.
 */
describe('MISS end to end: a requested suite the board cannot support makes the run not green (exit 4)', function () {
  this.timeout(15 * 60_000);
  let dir: string;

  before(function () {
    if (spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status !== 0) this.skip();
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-miss-'));
    mkdirSync(path.join(dir, 'boards'));
    const type = parse(readFileSync(path.join(ROOT, 'boards/qemu-x86-64.yaml'), 'utf8')) as {
      capabilities: string[];
    };
    const capabilities = type.capabilities.filter((c) => c !== 'wifi');
    writeFileSync(
      path.join(dir, 'boards', `${BOARD}.yaml`),
      stringify({ ...type, name: BOARD, capabilities }),
    );
  });
  after(function () {
    if (dir && this.currentTest?.state !== 'failed') rmSync(dir, { recursive: true, force: true });
  });

  it('boot passes, wifi tests nothing: MISS in the exit code, the console, summary.json and JUnit', async function () {
    const reports = path.join(dir, 'reports');
    const r = await runCli(['--board', BOARD, '--suite', 'boot,wifi', '--reports', reports], {
      env: { HW_TEST_BOARDS_DIR: path.join(dir, 'boards'), HW_TEST_HEALTH: path.join(dir, 'health.json') },
    });
    const out = `${r.stdout}\n${r.stderr}\nreports kept in ${dir}`;
    expect(r.code, out).to.equal(4);
    expect(r.stdout, out).to.match(
      new RegExp(`${BOARD}: MISS \\(\\d+ pass, \\d+ skipped\\): nothing was tested`),
    );
    expect(r.stdout, out).to.match(/ {2}miss: wifi: /);
    const { dir: runDir, summary } = latestRun(reports, BOARD);
    expect(summary).to.deep.include({ verdict: 'miss', exitCode: 4 });
    expect(
      summary.tests.filter((t) => t.suite === 'boot').every((t) => t.verdict === 'pass'),
      out,
    ).to.equal(true);
    expect(summary.missed?.map((m) => m.suite)).to.deep.equal(['wifi']);
    expect(readFileSync(path.join(runDir, 'junit.xml'), 'utf8')).to.match(/<error type="miss"/);
  });
});
