import { expect } from 'chai';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadSuites } from '../../rig/catalog/suites.js';
import { enableUserSuites, isSuitePath, userSuiteFiles } from '../../rig/catalog/user-suites.js';
import { InputError } from '../../rig/errors.js';
import type { SuiteContext } from '../../rig/suite-api/contracts.js';
import * as api from '../../rig/suite-api/index.js';
import { runSuites } from '../../rig/runner/suites.js';
import { runCli } from '../helpers/cli.js';

/** A folder outside the repository, as a user's suite lives: no package.json, no node_modules. */
function userDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-user-suite-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

async function inputError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(InputError);
  const message = (err as Error).message;
  expect(message).to.not.include('\n');
  return message;
}

describe('user suites (--suite PATH)', () => {
  it('tells a path from a built-in suite name', () => {
    for (const p of ['./mine', '/tmp/x', 'a/b', 'checks.spec.ts', 'x.mjs', 'x.cjs'])
      expect(isSuitePath(p), p).to.equal(true);
    for (const n of ['boot', 'update-rollback', 'os_checks']) expect(isSuitePath(n), n).to.equal(false);
  });

  it('finds the spec files of a folder (below it too, not in node_modules or dot folders) and its manifest', () => {
    const dir = userDir({
      'b.spec.ts': '',
      'a.spec.js': '',
      'deep/c.spec.mts': '',
      'node_modules/x/d.spec.js': '',
      '.cache/e.spec.js': '',
      'helper.ts': '',
      'suite.ts': '',
    });
    const found = userSuiteFiles(dir);
    expect(found.files.map((f) => path.relative(dir, f))).to.deep.equal([
      'a.spec.js',
      'b.spec.ts',
      path.join('deep', 'c.spec.mts'),
    ]);
    expect(found.manifestFile).to.equal(path.join(dir, 'suite.ts'));
    expect(found.defaultName).to.equal(path.basename(dir));
    const one = userSuiteFiles(path.join(dir, 'b.spec.ts'));
    expect(one).to.deep.include({ defaultName: 'b', files: [path.join(dir, 'b.spec.ts')] });
  });

  it('refuses a path that holds no suite, in one line naming it', () => {
    const dir = userDir({ 'notes.txt': '', 'old.spec.cjs': '', 'x.ts': '' });
    expect(() => userSuiteFiles(path.join(dir, 'nope'))).to.throw(InputError, /no such file or folder/);
    expect(() => userSuiteFiles(dir)).to.throw(InputError, /no spec files in .*\*\.spec\.ts/);
    expect(() => userSuiteFiles(path.join(dir, 'old.spec.cjs'))).to.throw(
      InputError,
      /CommonJS file; suites are ES modules/,
    );
    expect(() => userSuiteFiles(path.join(dir, 'notes.txt'))).to.throw(
      InputError,
      /not a suite folder or a \.ts/,
    );
  });

  it('loads a TypeScript manifest beside the specs, which imports hw-test/suite from outside the repository', async function () {
    // The first load of TypeScript itself takes seconds on a busy host.
    this.timeout(30_000);
    const dir = userDir({
      'x.spec.ts': '',
      'suite.ts': `import { defineSuite } from 'hw-test/suite';
        import { DEPTH } from './settings.js';
        export default defineSuite({ name: 'mine', network: true, options: [{ name: 'depth', value: 'N', description: 'how deep: ' + DEPTH }] });`,
      'settings.ts': 'export const DEPTH: number = 3;',
    });
    const [s] = await loadSuites([dir]);
    expect(s.name).to.equal('mine');
    expect(s.path).to.equal(dir);
    expect(s.manifest).to.deep.include({ name: 'mine', network: true });
    expect(s.manifest.options?.[0].description).to.equal('how deep: 3');
    // Without a manifest the folder's name is the suite's.
    const bare = userDir({ 'y.spec.js': '' });
    expect((await loadSuites([bare]))[0]).to.deep.include({
      name: path.basename(bare),
      manifest: { name: path.basename(bare) },
    });
  });

  it('refuses a manifest that throws or exports no manifest, and two suites of one name, naming the file', async () => {
    const throws = userDir({ 'x.spec.ts': '', 'suite.ts': "throw new Error('oops');" });
    expect(await inputError(loadSuites([throws]))).to.match(
      /suite\.ts: the suite's manifest does not load: oops$/,
    );
    const empty = userDir({ 'x.spec.ts': '', 'suite.js': 'export const x = 1;' });
    expect(await inputError(loadSuites([empty]))).to.match(
      /suite\.js: the default export must be the suite's manifest/,
    );
    const boot = userDir({ 'x.spec.ts': '', 'suite.mjs': "export default { name: 'boot' };" });
    expect(await inputError(loadSuites(['boot', boot]))).to.match(/two suites are named "boot"/);
    // One suite named twice (its folder and its file) is one suite.
    const twice = userDir({ 'x.spec.ts': '' });
    expect(await loadSuites([twice, path.join(twice, 'x.spec.ts')])).to.have.length(1);
  });

  it("gives a user module this installation's fixture API (the same module instance), hw-test's chai, and ./x.js -> x.ts", async () => {
    enableUserSuites();
    const dir = userDir({
      'probe.ts': `import { rig, defineSuite } from 'hw-test/suite';
        import { expect } from 'chai';
        import { two } from './lib/two.js';
        import plain from './plain.js';
        export const found = { rig, defineSuite, expect, two: two(), plain };`,
      'lib/two.ts': 'export const two = (): number => 2;',
      // A .js file in a folder with no package.json is an ES module.
      'plain.js': 'export default "esm";',
    });
    const probe = (await import(pathToFileURL(path.join(dir, 'probe.ts')).href)) as {
      found: { rig: unknown; defineSuite: unknown; expect: unknown; two: number; plain: string };
    };
    expect(probe.found.rig).to.equal(api.rig);
    expect(probe.found.defineSuite).to.equal(api.defineSuite);
    expect(probe.found.expect).to.equal(expect);
    expect(probe.found).to.deep.include({ two: 2, plain: 'esm' });
  });

  it('runs the specs of a user suite; a file that throws on load is an error result naming it, and the others still run', async function () {
    this.timeout(60_000);
    const dir = userDir({
      'good.spec.ts': `import { rig } from 'hw-test/suite';
        describe('whatever title', () => { it('sees the board', () => { if (rig().boardName !== 'b1') throw new Error('no'); rig().metric('m', 1); }); });`,
      'bad.spec.ts': "const n: number = 1;\nthrow new Error('broken at load ' + n);",
      'syntax.spec.mts': 'let x = ;',
    });
    const files = userSuiteFiles(dir).files;
    enableUserSuites();
    const results = await runSuites({
      suites: [{ name: 'mine', files }],
      allureResultsDir: path.join(dir, 'allure-results'),
      context: { boardName: 'b1', signal: new AbortController().signal } as unknown as Omit<
        SuiteContext,
        'metric' | 'attach' | 'skip'
      >,
      now: () => 0,
      excerpt: () => '',
      environment: {},
      signal: new AbortController().signal,
    });
    const byTitle = Object.fromEntries(results.map((r) => [r.title, r]));
    expect(results.map((r) => r.suite)).to.deep.equal(['mine', 'mine', 'mine']);
    expect(byTitle['sees the board']).to.deep.include({ verdict: 'pass', metrics: { m: 1 } });
    expect(byTitle['loads bad.spec.ts'].verdict).to.equal('error');
    expect(byTitle['loads bad.spec.ts'].message).to.equal(
      `${path.join(dir, 'bad.spec.ts')} does not load: broken at load 1`,
    );
    // The stack points into the TypeScript source, line 2.
    expect(byTitle['loads bad.spec.ts'].details).to.include(`${path.join(dir, 'bad.spec.ts')}:2:`);
    expect(byTitle['loads syntax.spec.mts'].message).to.match(/syntax\.spec\.mts:1:9: Expression expected/);
  });

  it("--help lists the options of the user suites --suite names, after the built-in suites'", async function () {
    this.timeout(30_000);
    const dir = userDir({
      'x.spec.ts': '',
      'suite.ts': `import { defineSuite } from 'hw-test/suite';
        export default defineSuite({ name: 'mine', options: [{ name: 'depth', value: 'N', description: 'how deep' }] });`,
    });
    const r = await runCli(['--board', 'qemu-x86-64', '--suite', `boot,${dir}`, '--help']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/--cuts N +update-rollback: [^\n]*\n(.*\n)* +--depth N +mine: how deep\n/);
    expect((await runCli(['--help'])).stdout).to.not.include('--depth');
    const bad = await runCli(['--suite', path.join(dir, 'none'), '--help']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/^hw-test: --suite .*none: no such file or folder/);
  });
});
