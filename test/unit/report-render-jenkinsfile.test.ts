import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as dashboard } from '../../rig/cli/dashboard.js';
import { command as report } from '../../rig/cli/report.js';
import { EXIT_CODES } from '../../rig/errors.js';

/** The Jenkinsfiles drive the CLI from Jenkins: they must say what the CLI accepts and returns. */
const root = process.cwd();
const jenkinsfile = readFileSync(join(root, 'Jenkinsfile'), 'utf8');
const nightly = readFileSync(join(root, 'Jenkinsfile.nightly'), 'utf8');
const shellBlocks = (groovy: string) => [...groovy.matchAll(/'''([\s\S]*?)'''/g)].map((m) => m[1]);
const runHelp = execFileSync(process.execPath, [join(root, 'dist/rig/cli/main.js'), '--help'], {
  encoding: 'utf8',
});

function caseBody(code: number): string {
  // Up to the case's return, through fall-throughs (130 falls through to 143).
  const m = jenkinsfile.match(new RegExp(`case ${code}:([\\s\\S]*?)return`));
  expect(m, `case ${code} in applyExitCode`).to.not.equal(null);
  return m![1];
}

describe('Jenkinsfile and Jenkinsfile.nightly, against the CLI', () => {
  it('runs what `npm run hw-test --` runs, under exec, so SIGTERM reaches hw-test itself', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    // exec: npm's SIGTERM reaches hw-test itself, not a shell that dies and leaves it running.
    expect(pkg.scripts['hw-test']).to.equal('exec node dist/rig/cli/main.js');
    expect(jenkinsfile).to.match(/^\s*exec node dist\/rig\/cli\/main\.js "\$@"$/m);
  });

  it('passes only run options that hw-test --help lists', () => {
    const script = shellBlocks(jenkinsfile).find((b) => b.includes('exec node'))!;
    const options = [...script.matchAll(/(--[a-z-]+) "/g)].map((m) => m[1]);
    expect(options).to.deep.equal(['--board', '--suite', '--reports', '--image', '--update-bundle']);
    for (const o of options) expect(runHelp).to.match(new RegExp(`^\\s+${o} `, 'm'));
  });

  it('maps the exit codes: 1 UNSTABLE, 3 FAILURE as a rig problem, 2 FAILURE, 130 ABORTED', () => {
    expect([EXIT_CODES.fail, EXIT_CODES.input, EXIT_CODES.infra, EXIT_CODES.interrupted]).to.deep.equal([
      1, 2, 3, 130,
    ]);
    expect(runHelp)
      .to.contain('1 a test failed')
      .and.contain('2 bad input')
      .and.contain('3 infrastructure error');
    expect(caseBody(1))
      .to.match(/unstable\(/)
      .and.not.match(/error\(/);
    expect(caseBody(3))
      .to.match(/currentBuild\.description = .*rig problem/)
      .and.match(/error\(/);
    expect(caseBody(2))
      .to.match(/error\(/)
      .and.not.match(/unstable\(/);
    expect(caseBody(130)).to.match(/ABORTED/);
  });

  it('runs on the board label under the board lock, and publishes JUnit, Allure and the artifacts', () => {
    expect(jenkinsfile).to.contain('agent { label "board-${params.BOARD}" }');
    expect(jenkinsfile).to.contain('lock(resource: "board-${params.BOARD}")');
    expect(jenkinsfile).to.match(/junit\(testResults: "\$\{runDir\}\/junit\.xml"/);
    expect(jenkinsfile).to.match(/allure\(results: \[\[path: "\$\{runDir\}\/allure-results"\]\]/);
    expect(jenkinsfile).to.match(/archiveArtifacts\(artifacts: '[^']*serial\.log[^']*summary\.json/);
    for (const p of ['BOARD', 'IMAGE', 'SUITES']) expect(jenkinsfile).to.contain(`string(name: '${p}'`);
  });

  it('nightly: cron, a matrix over boards whose cells build the per-board job, history kept', () => {
    expect(nightly).to.match(/triggers \{\s*\/\/[^\n]*\n\s*cron\('H 1 \* \* \*'\)/);
    expect(nightly).to.match(/matrix \{\s*axes \{\s*axis \{\s*name 'BOARD'/);
    expect(nightly).to.contain('build(job: params.BOARD_JOB');
    for (const p of ['BOARD', 'IMAGE', 'SUITES']) expect(nightly).to.contain(`string(name: '${p}', value:`);
    // hw-test report and dashboard are called with options their usage lists.
    const sh = shellBlocks(nightly).join('\n');
    expect(sh).to.contain('node dist/rig/cli/main.js report "$dir/$run" ${prev:+--history "$prev"}');
    expect(report.usage).to.contain('--history DIR');
    expect(sh).to.contain('node dist/rig/cli/main.js dashboard lab --out dashboard --last "$TREND_RUNS"');
    expect(dashboard.usage).to.contain('--out DIR').and.contain('--last N');
    expect(nightly).to.match(/copyArtifacts\(projectName: env\.JOB_NAME[^\n]*\n[^\n]*allure-report\/history/);
  });

  it('has shell steps that sh can parse', () => {
    for (const block of [...shellBlocks(jenkinsfile), ...shellBlocks(nightly)]) {
      const r = spawnSync('sh', ['-n'], { input: block, encoding: 'utf8' });
      expect(r.status, `${r.stderr}\n${block}`).to.equal(0);
    }
    // The check itself: a broken block is refused.
    expect(
      spawnSync('sh', ['-n'], { input: 'if [ -n "$x" ]; then echo', encoding: 'utf8' }).status,
    ).to.not.equal(0);
  });

  describe("parsed as Groovy by groovyc (Debian's groovy, installed by npm run setup)", function () {
    this.timeout(180_000);
    let dir: string;

    before(function () {
      // Not a skip: without the parser a syntax error would pass npm test unseen.
      const v = spawnSync('groovyc', ['--version'], { encoding: 'utf8' });
      if (v.error) throw new Error("groovyc is missing: run npm run setup (it installs Debian's groovy)");
      dir = mkdtempSync(join(tmpdir(), 'hw-test-groovy-'));
    });
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    /** Compiles the files (syntax and structure; pipeline steps are dynamic calls): exit and errors. */
    const groovyc = (files: Record<string, string>) => {
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      return spawnSync('groovyc', ['-d', join(dir, 'out'), ...Object.keys(files)], {
        cwd: dir,
        encoding: 'utf8',
      });
    };

    it('both Jenkinsfiles compile', function () {
      const ok = groovyc({ 'Jenkinsfile.groovy': jenkinsfile, 'JenkinsfileNightly.groovy': nightly });
      expect(ok.status, `${ok.stdout}\n${ok.stderr}`).to.equal(0);
    });

    // The check can fail: each Jenkinsfile, broken the way a hurried edit breaks it, is refused.
    const TRIPLE = "'".repeat(3);
    const breakages: [string, (t: string) => string][] = [
      ['a closing brace lost', (t) => t.replace(/\}\s*$/, '')],
      ['a string left open', (t) => t.replace(TRIPLE, "'")],
      ['a stray parenthesis', (t) => t.replace(/\bstages\s*\{/, 'stages ) {')],
    ];
    for (const [file, text] of [
      ['Jenkinsfile', () => jenkinsfile],
      ['Jenkinsfile.nightly', () => nightly],
    ] as const) {
      for (const [what, breakIt] of breakages) {
        it(`a broken copy of ${file} (${what}) is refused, naming the line`, function () {
          const broken = breakIt(text());
          expect(broken, 'the breakage changed the file').to.not.equal(text());
          const bad = groovyc({ 'Broken.groovy': broken });
          expect(bad.status, bad.stdout).to.not.equal(0);
          expect(`${bad.stdout}${bad.stderr}`).to.match(/Broken\.groovy: \d+:/);
        });
      }
    }
  });
});
