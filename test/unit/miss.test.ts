import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES, exitCodeFor, worst } from '../../rig/errors.js';
import { combinedRows, combinedTable } from '../../rig/report/combined.js';
import { summaryLines } from '../../rig/report/console.js';
import { matrix, suiteVerdict } from '../../rig/report/dashboard/index.js';
import { renderPage } from '../../rig/report/dashboard/html.js';
import { validateJunit } from '../../rig/report/junit-schema/validate.js';
import { junitXml } from '../../rig/report/junit.js';
import { missedSuites, withMiss } from '../../rig/report/miss.js';
import type { RunSummary, TestResult } from '../../rig/report/model.js';
import { tmpDir } from './flash-helpers.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { writeRunReports } from '../../rig/report/summary.js';

const root = process.cwd();
const t = (suite: string, verdict: TestResult['verdict'], skipReason?: string): TestResult => ({
  suite,
  title: `${suite} ${verdict}`,
  fullTitle: `${suite} ${verdict}`,
  verdict,
  durationMs: 1,
  attachments: [],
  startedAt: '2026-11-25T00:00:00Z',
  ...(skipReason ? { skipReason } : {}),
});

const NO_RADIO = 'the board has no WiFi radio (qemu-x86-64 capabilities: ethernet, update)';

function summary(tests: TestResult[], suites: string[], verdict: RunSummary['verdict']): RunSummary {
  return {
    schema: 1,
    runId: '20261125-000000-abcd',
    board: 'b',
    boardType: 'qemu-x86-64',
    host: 'h',
    startedAt: '2026-11-25T00:00:00Z',
    finishedAt: '2026-11-25T00:01:00Z',
    durationMs: 60_000,
    verdict,
    exitCode: exitCodeFor(verdict),
    image: { path: 'i.img' },
    suites,
    tests,
    steps: [],
    stages: [],
    findings: [],
    reproduce: 'npm run hw-test -- --board b',
  };
}

describe('MISS: nothing tested is not a pass (the report layer)', function () {
  const wifiOnly = () =>
    summary([t('wifi', 'skipped', NO_RADIO), t('wifi', 'skipped', NO_RADIO)], ['wifi'], 'miss');

  it('is a verdict of its own, worse than pass and better than any real problem, with exit code 4', function () {
    expect(EXIT_CODES.miss).to.equal(4);
    expect(exitCodeFor('miss')).to.equal(4);
    expect(new Set(Object.values(EXIT_CODES)).size).to.equal(Object.keys(EXIT_CODES).length - 1); // error = fail
    expect(worst(['pass', 'miss'])).to.equal('miss');
    expect(worst(['miss', 'skipped'])).to.equal('miss');
    for (const v of ['infra', 'error', 'fail', 'interrupted'] as const)
      expect(worst(['miss', v])).to.equal(v);
  });

  it('a requested suite whose every test skipped, or that ran no test, is missed, with the reason', function () {
    const s = summary(
      [t('boot', 'pass'), t('wifi', 'skipped', NO_RADIO), t('wifi', 'skipped', NO_RADIO)],
      ['boot', 'wifi', 'network'],
      'pass',
    );
    expect(missedSuites(s)).to.deep.equal([
      { suite: 'wifi', reason: NO_RADIO },
      { suite: 'network', reason: 'no test of this suite ran' },
    ]);
    // The run's verdict: a pass that missed a requested suite is not a pass; a failure stays one.
    expect(withMiss('pass', s)).to.equal('miss');
    expect(withMiss('fail', s)).to.equal('fail');
    expect(
      withMiss('pass', summary([t('boot', 'pass'), t('boot', 'skipped', 'x')], ['boot'], 'pass')),
    ).to.equal('pass');
    // A run stopped before its suites (a rig problem) missed nothing: it is that problem.
    expect(missedSuites(summary([], ['boot'], 'infra'))).to.deep.equal([]);
  });

  it('summary.json: the run says which suites tested nothing and why', async function () {
    const dir = join(tmpDir(), 'b', 'run');
    mkdirSync(dir, { recursive: true });
    await writeRunReports(dir, wifiOnly());
    const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
    expect(s).to.deep.include({ verdict: 'miss', exitCode: 4 });
    expect(s.missed).to.deep.equal([{ suite: 'wifi', reason: NO_RADIO }]);
  });

  it('JUnit: a missed suite carries an error of type miss naming the reason, and the file is valid for Jenkins', async function () {
    const xml = junitXml(wifiOnly());
    expect(xml).to.match(
      /<testcase name="nothing tested" classname="b\.wifi" time="0\.000">\s*<error type="miss" message="nothing was tested in wifi: the board has no WiFi radio/,
    );
    expect(xml).to.match(/<property name="verdict" value="miss"\/>/);
    expect(xml).to.match(/<testsuites [^>]*errors="1"/);
    const f = join(tmpDir(), 'junit.xml');
    writeFileSync(f, xml);
    await validateJunit(f);
  });

  it('the console table and the summary line say MISS, and which suite tested nothing', function () {
    const rows = combinedRows([wifiOnly()], '/r');
    expect(rows[0].suites).to.deep.equal({ wifi: 'miss' });
    const table = combinedTable(rows, ['wifi']);
    expect(table[1]).to.match(/^b\s+miss\s+-\s+-\s+MISS$/);
    const lines = summaryLines([wifiOnly()], '/r', '/r');
    expect(lines[0]).to.equal('b: MISS (2 skipped): nothing was tested');
    expect(lines[1]).to.equal(`  miss: wifi: ${NO_RADIO}`);
  });

  it('the dashboard: the cell and the run say miss, never pass or a plain skip', function () {
    const s = wifiOnly();
    expect(suiteVerdict(s, 'wifi')).to.equal('miss');
    const record = { dir: '/r/b/x', summary: s, allureReport: undefined };
    const m = matrix([{ board: 'b', latest: record, runs: [record] }] as never, ['wifi']);
    expect(m.rows[0][0].verdict).to.equal('miss');
    const html = renderPage({
      generatedAt: '2026-11-25T00:00:00Z',
      boards: [{ board: 'b', latest: record, runs: [record] }],
      last: 10,
      suiteOrder: ['wifi'],
      reportHref: () => undefined,
      summaryHref: () => 'summary.json',
    });
    expect(html).to.match(/class="cell v-miss"[^>]*data-verdict="miss"/);
    expect(html).to.match(/nothing tested/);
  });

  it('the README and --help document exit code 4; both Jenkinsfiles map it to a result that is not green', function () {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).to.match(/^\| 4 \| nothing was tested \(MISS\)/m);
    const help = readFileSync(join(root, 'rig/cli/main.ts'), 'utf8');
    expect(help).to.match(/4 nothing was tested/);
    const jf = readFileSync(join(root, 'Jenkinsfile'), 'utf8');
    expect(jf).to.match(/case 4:[\s\S]*?currentBuild\.result = 'NOT_BUILT'[\s\S]*?return/);
    const nightly = readFileSync(join(root, 'Jenkinsfile.nightly'), 'utf8');
    expect(nightly).to.match(/b\.result == 'NOT_BUILT'/);
    expect(nightly).to.match(/stageResult: 'NOT_BUILT'/);
  });
});
