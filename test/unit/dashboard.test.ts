import { expect } from 'chai';
import { cp, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { command } from '../../rig/cli/dashboard.js';
import type { CliIo } from '../../rig/cli/io.js';
import { InputError } from '../../rig/errors.js';
import {
  loadReports,
  matrix,
  suiteVerdict,
  trends,
  writeDashboard,
} from '../../rig/report/dashboard/index.js';
import type { RunSummary } from '../../rig/report/model.js';
import { builtinSuites, reportOrder } from '../../rig/catalog/suites.js';

const FIXTURES = join(process.cwd(), 'test/fixtures/runs');

function io(): CliIo & { lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return {
    lines,
    errs,
    out: (l) => lines.push(l),
    err: (l) => errs.push(l),
    interactive: false,
    env: {},
    signal: new AbortController().signal,
  };
}

async function copyFixtures(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hw-test-dash-'));
  await cp(FIXTURES, dir, { recursive: true, verbatimSymlinks: true, filter: (s) => !s.endsWith('.ts') });
  return dir;
}

function summary(over: Partial<RunSummary>): RunSummary {
  return {
    schema: 1,
    runId: '20261121-020000-abcd',
    board: 'b',
    boardType: 'b',
    host: 'h',
    startedAt: '2026-11-21T02:00:00Z',
    finishedAt: '2026-11-21T02:10:00Z',
    durationMs: 600_000,
    verdict: 'pass',
    exitCode: 0,
    image: { path: 'x.img' },
    suites: ['boot'],
    tests: [],
    steps: [],
    stages: [],
    findings: [],
    reproduce: 'npm run hw-test -- --board b',
    ...over,
  };
}

const test = (suite: string, verdict: RunSummary['verdict']) => ({
  suite,
  title: `${suite} ${verdict}`,
  fullTitle: `${suite} ${verdict}`,
  verdict,
  durationMs: 1000,
  attachments: [],
  startedAt: '2026-11-21T02:01:00Z',
});

describe('dashboard: runs, matrix and trends', () => {
  it('loads every board of the fixture lab, oldest run first, latest from the symlink', async () => {
    const boards = await loadReports(FIXTURES);
    expect(boards.map((b) => [b.board, b.runs.length])).to.deep.equal([
      ['odroid-xu4', 3],
      ['qemu-armv7', 3],
      ['qemu-x86-64', 4],
    ]);
    for (const b of boards) expect(b.latest).to.equal(b.runs.at(-1));
  });

  it("puts each suite's latest verdict in its board's row", async () => {
    // The columns' order is the suites' manifests' (suites/*/suite.ts).
    const { suites, rows } = matrix(await loadReports(FIXTURES), reportOrder(await builtinSuites()));
    expect(suites).to.deep.equal(['boot', 'network', 'wifi', 'update-rollback']);
    const grid = rows.map((r) => r.map((c) => c.verdict));
    expect(grid).to.deep.equal([
      ['infra', 'skipped', 'skipped', 'not-run'],
      ['pass', 'skipped', 'not-run', 'error'],
      ['pass', 'fail', 'not-run', 'pass'],
    ]);
  });

  it('calls a suite miss (or skipped after a failure) only when nothing in it ran, and never lets a skip hide a failure', () => {
    expect(
      suiteVerdict(summary({ tests: [test('boot', 'skipped'), test('boot', 'skipped')] }), 'boot'),
    ).to.equal('miss');
    expect(
      suiteVerdict(
        summary({ verdict: 'fail', tests: [test('boot', 'fail'), test('network', 'skipped')] }),
        'network',
      ),
    ).to.equal('skipped');
    expect(
      suiteVerdict(summary({ tests: [test('boot', 'pass'), test('boot', 'skipped')] }), 'boot'),
    ).to.equal('pass');
    expect(
      suiteVerdict(summary({ tests: [test('boot', 'fail'), test('boot', 'skipped')] }), 'boot'),
    ).to.equal('fail');
    // A run the rig broke before any suite started: its suites show the rig's verdict, not a blank.
    expect(suiteVerdict(summary({ verdict: 'infra', tests: [] }), 'boot')).to.equal('infra');
    expect(suiteVerdict(summary({}), 'wifi')).to.equal('not-run');
  });

  it('gives one trend point per run over the last N runs, unmeasured ones without a value', async () => {
    const x86 = (await loadReports(FIXTURES)).find((b) => b.board === 'qemu-x86-64')!;
    const all = trends(x86, 20);
    const boot = all.find((t) => t.id === 'boot')!.series[0];
    expect(boot.points.map((p) => p.value)).to.deep.equal([14.2, 15.1, undefined, 13.8]);
    const flash = all.find((t) => t.id === 'flash')!.series[0];
    expect(flash.points.map((p) => p.value)).to.deep.equal([182.4, 175.9, 179.2, 184.1]);
    const duration = all.find((t) => t.id === 'duration')!;
    expect(duration.series.map((s) => s.name)).to.deep.equal(['boot', 'network', 'update-rollback']);
    for (const s of duration.series) expect(s.points).to.have.length(4);
    // A run that wrote no bytes (the image was already on the card) measured no throughput.
    x86.runs[0].summary.flash = { mbPerSecond: 0, bytesWritten: 0, seconds: 0.1, verified: false };
    expect(trends(x86, 20)[1].series[0].points[0].value).to.equal(undefined);
    const last2 = trends(x86, 2);
    expect(last2[0].series[0].points.map((p) => p.runId)).to.deep.equal(
      x86.runs.slice(-2).map((r) => r.summary.runId),
    );
  });
});

describe('dashboard: the HTML page', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await copyFixtures();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes no external request: inline CSS and SVG, a CSP that forbids fetching', async () => {
    const { file } = await writeDashboard({ reportsDir: dir, outDir: join(dir, 'dash') });
    const html = await readFile(file, 'utf8');
    expect(html).to.contain(`content="default-src 'none'`);
    expect(html).to.not.match(/<(script|link|img|iframe)\b/i);
    // The only absolute URL is the SVG namespace, which is a name, not a fetch.
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<]+/g)].map((m) => m[0]);
    expect(
      urls.filter((u) => u !== 'http://www.w3.org/2000/svg' && !u.startsWith('https://ci.example/')),
    ).to.deep.equal([]);
    // ci.example only appears inside the reproduce command text, never as a link.
    expect(html).to.not.match(/href="https?:/);
  });

  it("links cells to each run's Allure report by a relative path, or to summary.json when not rendered", async () => {
    const latest = join(dir, 'qemu-x86-64/latest');
    await mkdir(join(latest, 'allure-report'), { recursive: true });
    await writeFile(join(latest, 'allure-report/index.html'), '<html></html>');
    const res = await writeDashboard({ reportsDir: dir, outDir: join(dir, 'dash') });
    const html = await readFile(res.file, 'utf8');
    const href = (board: string, suite: string) =>
      html.match(new RegExp(`data-board="${board}" data-suite="${suite}"[^>]*><a href="([^"]+)"`))![1];
    const x86 = href('qemu-x86-64', 'network');
    expect(x86).to.match(/^\.\.\/qemu-x86-64\/\d{8}-\d{6}-[0-9a-f]+\/allure-report\/index\.html$/);
    // The link, followed from the dashboard's folder, lands on the latest run's report.
    expect(await realpath(resolve(dir, 'dash', x86))).to.equal(
      await realpath(join(latest, 'allure-report/index.html')),
    );
    expect(href('odroid-xu4', 'boot')).to.match(/^\.\.\/odroid-xu4\/[^/]+\/summary\.json$/);
    expect(res.withoutReport).to.have.length(9);
  });

  it('escapes everything it puts into the page', async () => {
    const run = join(dir, 'qemu-x86-64/latest/summary.json');
    const s = JSON.parse(await readFile(run, 'utf8')) as RunSummary;
    s.image.version = '<img src=x onerror=alert(1)>';
    s.reproduce = 'npm run hw-test -- --board "x"</code><script>alert(2)</script>';
    s.tests[0].suite = 'boot"><script>alert(3)</script>';
    s.message = "it's <b>bold</b>";
    await writeFile(run, JSON.stringify(s));
    const html = await readFile(
      (await writeDashboard({ reportsDir: dir, outDir: join(dir, 'dash') })).file,
      'utf8',
    );
    expect(html).to.not.contain('<script');
    expect(html).to.not.contain('<img');
    expect(html).to.not.contain('<b>bold');
    expect(html).to.contain('&#60;img src=x onerror=alert(1)&#62;');
    expect(html).to.contain('&#60;/code&#62;&#60;script&#62;alert(2)');
  });
});

describe('hw-test dashboard (CLI)', () => {
  it('writes index.html and says how many boards and runs it read', async () => {
    const dir = await copyFixtures();
    try {
      const o = io();
      expect(await command.main([dir, '--out', join(dir, 'site'), '--last', '3'], o)).to.equal(0);
      expect(o.lines).to.deep.equal([join(dir, 'site/index.html')]);
      expect(o.errs[0]).to.equal('hw-test dashboard: 3 boards, 10 runs');
      const html = await readFile(join(dir, 'site/index.html'), 'utf8');
      expect(html).to.contain('last 3 runs');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad input with one line naming the option, folder or file', async () => {
    const bad = async (argv: string[]) => {
      try {
        await command.main(argv, io());
      } catch (err) {
        expect(err).to.be.instanceOf(InputError);
        return (err as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(await bad([FIXTURES, '--last', '0'])).to.match(/--last 0: expected a whole number/);
    expect(await bad([])).to.match(/REPORTS_DIR expected/);
    expect(await bad(['/nonexistent/reports'])).to.match(/\/nonexistent\/reports: no such reports folder/);
    const dir = await mkdtemp(join(tmpdir(), 'hw-test-dash-'));
    try {
      expect(await bad([dir])).to.match(/holds no runs/);
      await mkdir(join(dir, 'b/r1'), { recursive: true });
      await writeFile(join(dir, 'b/r1/summary.json'), JSON.stringify({ schema: 1, runId: 'r1' }));
      expect(await bad([dir])).to.match(/b\/r1\/summary\.json: field "board" is missing/);
      await writeFile(join(dir, 'b/r1/summary.json'), '{ not json');
      expect(await bad([dir])).to.match(/summary\.json: not JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
