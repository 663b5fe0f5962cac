import { expect } from 'chai';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureImage } from '../../rig/image/build.js';
import type { RunSummary } from '../../rig/report/model.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { boardDisk, expectCleanEnd } from '../helpers/faults.js';

/**
 * User suites as a user runs them: folders outside the repository (no package.json, no
 * node_modules), TypeScript and JavaScript, through the CLI, on a virtual board of its own name
 * (so that another run on qemu-x86-64 does not hold it). examples/os-checks runs from a copy
 * outside the repository too: it passes on the reference OS and fails on the rw-root variant.
 */
const BOARD = 'qemu-x86-64-user';

function boardsDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-user-boards-'));
  const y = readFileSync(path.join(ROOT, 'boards', 'qemu-x86-64.yaml'), 'utf8');
  writeFileSync(path.join(dir, `${BOARD}.yaml`), y.replace(/^name: .*$/m, `name: ${BOARD}`));
  return dir;
}

function write(dir: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Allure results of a run: each test's name, status and suite label. */
function allure(runDir: string): { name: string; status: string; suite?: string }[] {
  const dir = path.join(runDir, 'allure-results');
  return readdirSync(dir)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => {
      const r = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as {
        name: string;
        status: string;
        labels: { name: string; value: string }[];
      };
      return { name: r.name, status: r.status, suite: r.labels.find((l) => l.name === 'parentSuite')?.value };
    });
}

describe('user suites: --suite PATH outside the repository (qemu-x86-64, TCG)', function () {
  this.timeout(900_000);
  const home = mkdtempSync(path.join(os.tmpdir(), 'hwt-user-'));
  const reports = path.join(home, 'reports');
  const env = { HW_TEST_BOARDS_DIR: boardsDir() };
  const osChecks = path.join(home, 'os-checks');

  before(function () {
    cpSync(path.join(ROOT, 'examples', 'os-checks'), osChecks, { recursive: true });
    rmSync(path.join(osChecks, 'tsconfig.json'));
  });

  it('a --suite path that holds no suite is one line naming it, exit 2, before the board is touched', async function () {
    const empty = write(path.join(home, 'empty'), { 'notes.md': '' });
    const throwing = write(path.join(home, 'bad-manifest'), {
      'x.spec.ts': '',
      'suite.ts': "throw new Error('manifest broken');",
    });
    for (const [arg, re] of [
      [path.join(home, 'nope'), /--suite .*nope: no such file or folder/],
      [empty, /--suite .*empty: no spec files in /],
      [path.join(empty, 'notes.md'), /not a suite folder or a \.ts/],
      [throwing, /bad-manifest\/suite\.ts: the suite's manifest does not load: manifest broken$/],
    ] as const) {
      const r = await runCli(['--board', BOARD, '--suite', `boot,${arg}`, '--reports', reports], { env });
      expect(r.code, r.stderr).to.equal(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).to.have.length(1);
      expect(lines[0]).to.match(re);
    }
  });

  it('runs a TypeScript and a JavaScript suite; a spec that throws on load is verdict error naming it; all in JUnit, Allure, summary.json', async function () {
    const ts = write(path.join(home, 'ts-suite'), {
      'suite.ts': `import { defineSuite } from 'hw-test/suite';
        export default defineSuite({ name: 'mine', options: [{ name: 'greeting', value: 'TEXT', description: 'said back' }] });`,
      'greet.spec.ts': `import { expect } from 'chai';
        import { rig, type SuiteContext } from 'hw-test/suite';
        import { shout } from './lib/shout.js';
        describe('my checks', () => {
          it('gets its option and the run', () => {
            const ctx: SuiteContext = rig();
            expect(shout(ctx.options.greeting)).to.equal('HELLO!');
            expect(ctx.boardName).to.equal('${BOARD}');
            ctx.metric('answer', 42);
            ctx.attach('note', 'from a user suite');
          });
        });`,
      'lib/shout.ts':
        'export const shout = (s: string | undefined): string => `${(s ?? "").toUpperCase()}!`;',
    });
    const js = write(path.join(home, 'js-suite'), {
      'plain.spec.js': `import { expect } from 'chai';
        import { rig } from 'hw-test/suite';
        describe('plain js', () => { it('runs as an ES module', () => expect(rig().hostname).to.match(/^hwt-/)); });`,
      'broken.spec.js': "import { rig } from 'hw-test/suite';\nrig.nothing.here();",
    });
    const r = await runCli(
      ['--board', BOARD, '--suite', `${ts},${js}`, '--greeting', 'hello', '--reports', reports],
      { env },
    );
    const { dir, summary } = await expectCleanEnd({
      board: BOARD,
      reports,
      code: r.code,
      stderr: r.stderr,
      verdict: 'error',
      exitCode: 1,
      serialLog: true,
      disk: boardDisk(BOARD),
    });
    expect(summary.suites).to.deep.equal(['mine', 'js-suite']);
    const by = (title: string) => summary.tests.find((t) => t.title === title)!;
    expect(by('gets its option and the run')).to.deep.include({
      suite: 'mine',
      verdict: 'pass',
      metrics: { answer: 42 },
    });
    expect(by('gets its option and the run').attachments.map((a) => a.name)).to.include('note');
    expect(by('runs as an ES module')).to.deep.include({ suite: 'js-suite', verdict: 'pass' });
    const broken = by('loads broken.spec.js');
    expect(broken).to.deep.include({ suite: 'js-suite', verdict: 'error' });
    expect(broken.message).to.match(
      /js-suite\/broken\.spec\.js does not load: Cannot read properties of undefined/,
    );
    expect(broken.details).to.include('broken.spec.js:2');
    const junit = readFileSync(path.join(dir, 'junit.xml'), 'utf8');
    expect(junit).to.include(`<testsuite name="${BOARD}.mine"`);
    expect(junit).to.match(
      new RegExp(`<testsuite name="${BOARD}\\.js-suite" tests="2" failures="0" errors="1"`),
    );
    expect(junit).to.include('broken.spec.js does not load');
    const results = allure(dir);
    expect(results).to.deep.include({
      name: 'gets its option and the run',
      status: 'passed',
      suite: 'my checks',
    });
    expect(results.find((x) => x.name === 'loads broken.spec.js')?.status).to.equal('broken');
    expect(r.stdout).to.match(/ERROR \(2 pass, 1 error\)/);
  });

  let passed: { dir: string; summary: RunSummary } | undefined;

  it('examples/os-checks passes on the reference OS, and shows in JUnit, Allure, summary.json and the dashboard', async function () {
    const r = await runCli(['--board', BOARD, '--suite', osChecks, '--reports', reports], { env });
    passed = await expectCleanEnd({
      board: BOARD,
      reports,
      code: r.code,
      stderr: r.stderr,
      verdict: 'pass',
      exitCode: 0,
      serialLog: true,
      disk: boardDisk(BOARD),
    });
    const { dir, summary } = passed;
    expect(summary.suites).to.deep.equal(['os-checks']);
    expect(summary.tests.map((t) => `${t.suite}: ${t.title}: ${t.verdict}`)).to.deep.equal([
      'os-checks: mounts the root filesystem read-only: pass',
      'os-checks: runs the services the OS profile names: pass',
      'os-checks: writes to the data partition: pass',
      'os-checks: keeps the data across a power cut: pass',
      'os-checks: keeps the data across a reboot: pass',
    ]);
    expect(summary.tests[0].attachments.map((a) => a.name)).to.include.members(['console', 'mounts']);
    expect(summary.tests[3].metrics?.loginAfterPowerCutMs).to.be.greaterThan(0);
    expect(readFileSync(path.join(dir, 'junit.xml'), 'utf8')).to.include(
      `<testsuite name="${BOARD}.os-checks" tests="5" failures="0" errors="0"`,
    );
    expect(allure(dir).filter((x) => x.suite === 'os-checks' && x.status === 'passed')).to.have.length(5);
    const d = await runCli(['dashboard', reports, '--out', path.join(home, 'dashboard')]);
    expect(d.code, d.stderr).to.equal(0);
    const html = readFileSync(path.join(home, 'dashboard', 'index.html'), 'utf8');
    expect(html).to.include('<th>os-checks</th>');
    expect(html).to.include(`data-board="${BOARD}" data-suite="os-checks" data-verdict="pass"`);
  });

  it('examples/os-checks fails on the rw-root variant: the root is mounted read-write', async function () {
    const image = (await ensureImage('x86_64', 'rw-root')).image;
    // Only the check the variant breaks: one boot, not the power cut and the reboot.
    const r = await runCli(
      ['--board', BOARD, '--image', image, '--suite', osChecks, '--grep', 'read-only', '--reports', reports],
      { env },
    );
    const { summary } = await expectCleanEnd({
      board: BOARD,
      reports,
      code: r.code,
      stderr: r.stderr,
      verdict: 'fail',
      exitCode: 1,
      serialLog: true,
      disk: boardDisk(BOARD),
    });
    expect(summary.tests).to.have.length(1);
    expect(summary.tests[0]).to.deep.include({
      title: 'mounts the root filesystem read-only',
      verdict: 'fail',
    });
    expect(summary.tests[0].message).to.match(/the mount options of \/ .*to include 'ro'/);
  });
});
