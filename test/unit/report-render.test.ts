import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from '../../rig/cli/report.js';
import type { CliIo } from '../../rig/cli/io.js';
import { InfraError, InputError } from '../../rig/errors.js';
import { CATEGORIES, executorInfo, renderAllure } from '../../rig/report/allure-render.js';
import { validateJunit } from '../../rig/report/junit-schema/validate.js';
import { FakeSpawner, type ToolReply } from '../../rig/sim/spawner.js';

const FIXTURES = join(process.cwd(), 'test/fixtures/runs');

/** The fake spawner answering like the tool; it records each command with its environment. */
const recordingSpawner = (answer: (args: readonly string[]) => Promise<ToolReply>) =>
  new FakeSpawner({ tool: (_cmd, args) => answer(args) });

/** A fake `allure generate` that writes an index.html (with Google's tag, as Allure's template has) and a history. */
const fakeAllure = () =>
  recordingSpawner(async (args) => {
    const out = args[args.indexOf('-o') + 1];
    await mkdir(join(out, 'history'), { recursive: true });
    await writeFile(join(out, 'history/history-trend.json'), '[]');
    await writeFile(
      join(out, 'index.html'),
      '<html><body><div id="content"></div>\n<script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n<script>\n  window.dataLayer = window.dataLayer || [];\n</script>\n</body></html>',
    );
    return {};
  });

function io(env: NodeJS.ProcessEnv = {}): CliIo & { lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return {
    lines,
    errs,
    out: (l) => lines.push(l),
    err: (l) => errs.push(l),
    interactive: false,
    env,
    signal: new AbortController().signal,
  };
}

const hasJava = (() => {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function runDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const b of await readdir(root, { withFileTypes: true })) {
    if (!b.isDirectory()) continue;
    for (const r of await readdir(join(root, b.name))) if (r !== 'latest') out.push(join(root, b.name, r));
  }
  return out.sort();
}

describe('junit.xml against the schema Jenkins reads', () => {
  it('accepts every fixture run', async () => {
    const dirs = await runDirs(FIXTURES);
    expect(dirs).to.have.length(10);
    for (const d of dirs) await validateJunit(join(d, 'junit.xml'));
  });

  it('rejects what the JUnit plugin schema does not allow, naming the file and the element', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hw-test-junit-'));
    try {
      const bad = async (xml: string) => {
        const f = join(dir, 'junit.xml');
        await writeFile(f, xml);
        try {
          await validateJunit(f);
        } catch (err) {
          expect(err).to.be.instanceOf(InputError);
          return (err as Error).message;
        }
        throw new Error(`accepted ${xml}`);
      };
      const suite = (body: string) =>
        `<testsuites><testsuite name="b.boot" tests="1">${body}</testsuite></testsuites>`;
      expect(await bad(suite('<testcase name="t"><skipped message="why"/></testcase>'))).to.match(
        /junit\.xml: not valid JUnit XML for Jenkins.*'skipped'.*attribute 'message'/,
      );
      expect(await bad(suite('<testcase classname="x"/>'))).to.match(/'testcase'.*'name' is required/);
      expect(await bad('<testsuites><testsuite name="b"/></testsuites>')).to.match(/'tests' is required/);
      expect(await bad(suite('<testcase name="t"><failure>x</failure><skipped/></testcase>'))).to.match(
        /'skipped'.*not expected/,
      );
      expect(await bad('<testsuites><testsuite')).to.match(/not valid JUnit XML/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing xmllint as a rig problem, not a bad file', async () => {
    const err = await validateJunit('x.xml', { spawner: new FakeSpawner() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(InfraError);
    expect((err as Error).message).to.match(/^xmllint: exit 127 validating x\.xml/);
  });
});

describe('Allure rendering (hw-test report)', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'hw-test-report-'));
    await cp(FIXTURES, root, { recursive: true, verbatimSymlinks: true, filter: (s) => !s.endsWith('.ts') });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('runs allure generate with analytics off, and writes executor, categories and the environment', async () => {
    const spawner = fakeAllure();
    const run = join(root, 'odroid-xu4/latest');
    const env = {
      BUILD_URL: 'https://jenkins.lab/job/hw-test/42/',
      BUILD_NUMBER: '42',
      JOB_NAME: 'hw-test',
      JENKINS_URL: 'https://jenkins.lab/',
    };
    const res = await renderAllure({ runDir: run, env, spawner, allureBin: '/opt/allure' });
    expect(spawner.runs).to.have.length(1);
    expect(spawner.runs[0].cmd).to.equal('/opt/allure');
    expect(spawner.runs[0].args).to.deep.equal([
      'generate',
      '--clean',
      '-o',
      join(run, 'allure-report'),
      join(run, 'allure-results'),
    ]);
    expect(spawner.runs[0].env?.ALLURE_NO_ANALYTICS).to.equal('true');
    const results = join(run, 'allure-results');
    expect(JSON.parse(await readFile(join(results, 'executor.json'), 'utf8'))).to.deep.include({
      type: 'jenkins',
      buildOrder: 42,
      buildName: 'hw-test #42',
      buildUrl: env.BUILD_URL,
      reportUrl: 'https://jenkins.lab/job/hw-test/42/allure/',
    });
    expect(JSON.parse(await readFile(join(results, 'categories.json'), 'utf8'))).to.deep.equal(CATEGORIES);
    const props = await readFile(join(results, 'environment.properties'), 'utf8');
    expect(props).to.contain('Reproduce=npm run hw-test -- --board odroid-xu4 --image https://ci.example/');
    expect(props).to.match(/^Verdict=infra$/m);
    // Allure's template loads Google's tag; a lab report must not reach out.
    expect(await readFile(join(res.reportDir, 'index.html'), 'utf8')).to.not.contain('googletagmanager');
    expect(res.history).to.equal(undefined);
  });

  it('names the board in every result, once, so a lab-wide report keeps boards apart', async () => {
    const run = join(root, 'qemu-armv7/latest');
    const results = join(run, 'allure-results');
    const read = async () => {
      const out = [];
      for (const f of (await readdir(results)).filter((n) => n.endsWith('-result.json'))) {
        out.push(
          JSON.parse(await readFile(join(results, f), 'utf8')) as {
            historyId: string;
            parameters: { name: string; value: string }[];
          },
        );
      }
      return out;
    };
    const before = await read();
    await renderAllure({ runDir: run, env: {}, spawner: fakeAllure(), allureBin: 'allure' });
    await renderAllure({ runDir: run, env: {}, spawner: fakeAllure(), allureBin: 'allure' });
    const after = await read();
    expect(after).to.have.length(7);
    for (const r of after) {
      expect(r.parameters).to.deep.equal([{ name: 'board', value: 'qemu-armv7' }]);
      expect(r.historyId).to.match(/^[0-9a-f]{32}:qemu-armv7$/);
    }
    expect(new Set(after.map((r) => r.historyId))).to.deep.equal(
      new Set(before.map((r) => `${r.historyId}:qemu-armv7`)),
    );
  });

  it('describes a local run as local, without a Jenkins build', () => {
    expect(executorInfo({})).to.deep.equal({
      name: 'hw-test',
      type: 'local',
      reportName: 'hw-test',
      buildName: 'local run',
    });
  });

  it('carries history/ from the previous report, and starts a new trend when there is none yet', async () => {
    const spawner = fakeAllure();
    const [first, second] = (await runDirs(root)).filter((d) => d.includes('qemu-armv7'));
    const a = await renderAllure({ runDir: first, env: {}, spawner, allureBin: 'allure' });
    const b = await renderAllure({
      runDir: second,
      env: {},
      spawner,
      allureBin: 'allure',
      historyFrom: a.reportDir,
    });
    expect(b.history).to.equal(join(a.reportDir, 'history'));
    expect(await readdir(join(second, 'allure-results/history'))).to.deep.equal(['history-trend.json']);
    // The previous run's folder works too, and a folder that does not exist yet (the first nightly).
    expect(
      (await renderAllure({ runDir: second, env: {}, spawner, allureBin: 'allure', historyFrom: first }))
        .history,
    ).to.equal(join(first, 'allure-report/history'));
    expect(
      (
        await renderAllure({
          runDir: second,
          env: {},
          spawner,
          allureBin: 'allure',
          historyFrom: join(root, 'none'),
        })
      ).history,
    ).to.equal(undefined);
    // A folder that exists but holds no history is a wrong argument, not a new trend.
    const err = await renderAllure({
      runDir: second,
      env: {},
      spawner,
      allureBin: 'allure',
      historyFrom: root,
    }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(/--history .*: no Allure history there/);
  });

  it('says what is wrong with a run folder, or with allure', async () => {
    const err1 = await renderAllure({ runDir: join(root, 'nowhere'), spawner: fakeAllure() }).catch(
      (e: unknown) => e,
    );
    expect(err1).to.be.instanceOf(InputError);
    expect((err1 as Error).message).to.match(/nowhere\/allure-results: no Allure results/);
    const broken = recordingSpawner(() =>
      Promise.resolve({ code: 1, stderr: 'ERROR: JAVA_HOME is not set and no java command could be found' }),
    );
    const err2 = await renderAllure({
      runDir: join(root, 'qemu-armv7/latest'),
      spawner: broken,
      allureBin: 'allure',
    }).catch((e: unknown) => e);
    expect(err2).to.be.instanceOf(InfraError);
    expect((err2 as Error).message).to.match(
      /allure generate \(needs Java.*\): exit 1: ERROR: JAVA_HOME is not set/,
    );
  });

  it('CLI: asks for RUN_DIR when several boards ran, naming them', async () => {
    const multi = await command.main(['--reports', root], io()).catch((e: unknown) => e);
    expect(multi).to.be.instanceOf(InputError);
    expect((multi as Error).message).to.match(
      /holds runs of odroid-xu4, qemu-armv7, qemu-x86-64; pass RUN_DIR, e\.g\. .*odroid-xu4\/latest/,
    );
    const none = await command.main(['--reports', join(root, 'nowhere')], io()).catch((e: unknown) => e);
    expect((none as Error).message).to.match(
      /nowhere: no such reports folder; pass RUN_DIR or --reports DIR/,
    );
  });

  describe('with the real allure-commandline', function () {
    this.timeout(120_000);
    before(function () {
      if (!hasJava) {
        console.log('      skipped: java missing (apt-get install -y default-jre-headless)');
        this.skip();
      }
    });

    it("CLI: defaults to the one board's latest run and prints where the HTML is", async () => {
      const one = await mkdtemp(join(tmpdir(), 'hw-test-report-'));
      try {
        await cp(join(root, 'qemu-armv7'), join(one, 'qemu-armv7'), {
          recursive: true,
          verbatimSymlinks: true,
        });
        const o = io();
        expect(await command.main(['--reports', one], o)).to.equal(0);
        expect(o.lines).to.deep.equal([join(one, 'qemu-armv7/latest/allure-report/index.html')]);
        expect(o.errs.join('\n')).to.contain('reproduce with: npm run hw-test -- --board qemu-armv7');
      } finally {
        await rm(one, { recursive: true, force: true });
      }
    });

    it('files our verdict classes under their categories, with the console attachment and a trend', async () => {
      const x86 = (await runDirs(root)).filter((d) => d.includes('qemu-x86-64'));
      let previous: string | undefined;
      for (const run of x86)
        previous = (await renderAllure({ runDir: run, historyFrom: previous, env: {} })).reportDir;
      const report = join(root, 'qemu-x86-64/latest/allure-report');
      const trend = JSON.parse(
        await readFile(join(report, 'history/history-trend.json'), 'utf8'),
      ) as unknown[];
      expect(trend).to.have.length(4);
      const categories = async (dir: string) => {
        const c = JSON.parse(await readFile(join(dir, 'data/categories.json'), 'utf8')) as {
          children: { name: string; children: unknown[] }[];
        };
        return Object.fromEntries(c.children.map((x) => [x.name, x.children.length]));
      };
      expect(await categories(report)).to.deep.equal({ 'Product defects': 1 });
      // The third x86 run lost its console: a rig problem, not the image's fault.
      expect(await categories(join(x86[2], 'allure-report'))).to.deep.equal({ 'Rig problems (infra)': 1 });
      const armv7 = (await runDirs(root)).filter((d) => d.includes('qemu-armv7')).at(-1)!;
      await renderAllure({ runDir: armv7, env: {} });
      expect(await categories(join(armv7, 'allure-report'))).to.deep.equal({ 'Test defects': 1 });
      const cases = await readdir(join(report, 'data/test-cases'));
      const withConsole = [];
      for (const c of cases) {
        const tc = JSON.parse(await readFile(join(report, 'data/test-cases', c), 'utf8')) as {
          testStage?: { attachments?: { name: string }[] };
        };
        if (tc.testStage?.attachments?.some((a) => a.name === 'console')) withConsole.push(c);
      }
      expect(withConsole).to.have.length(7);
      expect(await readFile(join(report, 'index.html'), 'utf8')).to.not.contain('googletagmanager');
    });
  });
});
