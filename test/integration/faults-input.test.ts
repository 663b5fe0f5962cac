import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheRoot, ensureImage } from '../../rig/image/build.js';
import { ROOT, runCli } from '../helpers/cli.js';
import {
  boardDisk,
  expectCleanEnd,
  faultBoards,
  lockIsFree,
  poweredOff,
  startCli,
} from '../helpers/faults.js';

/**
 * The fault matrix's bad-input rows (exit 2, one line naming the file, field or device) and the
 * full disk under the report, through the real CLI.
 */
describe('fault matrix: bad input and a full report disk (real CLI)', function () {
  this.timeout(120_000);
  let dir: string;
  let boardsDir: string;
  const BOARD = 'faults-input-x86-64';

  before(function () {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-faults-input-'));
    boardsDir = faultBoards(path.join(dir, 'boards'), { [BOARD]: {} }).dir;
  });

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli([...args, '--quarantine-after', '1000'], { env: { HW_TEST_BOARDS_DIR: boardsDir, ...env } });
  const oneLine = (stderr: string) => expect(stderr.trim().split('\n'), stderr).to.have.length(1);

  it('a corrupt image: bad input (exit 2), a complete report, no board touched, no work copy left', async function () {
    const good = await ensureImage('x86_64', 'v1');
    const corrupt = path.join(dir, 'corrupt.img.xz');
    // A truncated download: the xz stream ends in the middle.
    const xz = spawnSync('xz', ['-0', '-c'], { input: readFileSync(good.image).subarray(0, 4 << 20) });
    writeFileSync(corrupt, xz.stdout.subarray(0, 64 << 10));
    const reports = path.join(dir, 'corrupt');
    const r = await cli(['--board', BOARD, '--image', corrupt, '--reports', reports]);
    expect(r.stdout).to.match(
      new RegExp(`${corrupt}: bad image: xz cannot read it \\(.*Compressed data is corrupt\\)`),
    );
    const { summary } = await expectCleanEnd({
      board: BOARD,
      reports,
      ...r,
      verdict: 'error',
      exitCode: 2,
      serialLog: false,
      disk: boardDisk(BOARD),
    });
    expect(summary.steps.map((s) => `${s.name} ${s.verdict}`)).to.deep.equal([
      'reserve pass',
      'prepare error',
      'remove the work copy pass',
      'unlock pass',
    ]);
    expect(existsSync(path.join(cacheRoot(), 'work', summary.runId)), 'work folder left').to.equal(false);
  });

  it('update-rollback without the bundle of the image: exit 2 at prepare, naming --update-bundle, nothing flashed', async function () {
    const reports = path.join(dir, 'no-bundle');
    const rauc = path.join(ROOT, 'os', 'profiles', 'rauc.yaml');
    const r = await cli(['--board', BOARD, '--os', rauc, '--suite', 'update-rollback', '--reports', reports]);
    expect(r.stdout).to.contain(
      'the run needs a good update bundle of the image under test (update-bundle): pass --update-bundle FILE|URL',
    );
    const { summary } = await expectCleanEnd({
      board: BOARD,
      reports,
      ...r,
      verdict: 'error',
      exitCode: 2,
      serialLog: false,
      disk: boardDisk(BOARD),
    });
    expect(summary.steps.map((s) => `${s.name} ${s.verdict}`)).to.include('prepare error');
    expect(summary.steps.map((s) => s.name)).to.not.include('flash');
  });

  it('a non-existent update bundle: exit 2 before any board is touched, one line naming it', async function () {
    const r = await cli([
      '--board',
      BOARD,
      '--suite',
      'update-rollback',
      '--update-bundle',
      `${dir}/nope.raucb`,
    ]);
    expect(r.code).to.equal(2);
    oneLine(r.stderr);
    expect(r.stderr).to.contain(`--update-bundle ${dir}/nope.raucb: no such file`);
    expect(await lockIsFree(BOARD)).to.equal(true);
  });

  it("a bundle URL's credentials appear in no output line and no report file, nothing flashed", async function () {
    const reports = path.join(dir, 'bundle-url');
    const rauc = path.join(ROOT, 'os', 'profiles', 'rauc.yaml');
    // Nothing listens on port 9 (discard): the download fails; its messages quote the URL.
    const url = 'http://ci:s3cr3t-bundle-token@127.0.0.1:9/builds/42/update.raucb';
    const r = await cli([
      '--board',
      BOARD,
      '--os',
      rauc,
      '--suite',
      'update-rollback',
      '--update-bundle',
      url,
      '--reports',
      reports,
    ]);
    expect(r.code).to.not.equal(0);
    expect(`${r.stdout}${r.stderr}`).to.match(/http:\/\/\S*\*{8}@127\.0\.0\.1:9\/builds\/42\/update\.raucb/);
    expect(`${r.stdout}${r.stderr}`).to.not.contain('s3cr3t-bundle-token');
    const files = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(path.join(d, e.name)) : e.isFile() ? [path.join(d, e.name)] : [],
      );
    const written = files(reports);
    expect(written.some((f) => f.endsWith('summary.json'))).to.equal(true);
    for (const f of written) expect(readFileSync(f, 'utf8'), f).to.not.contain('s3cr3t-bundle-token');
    expect(await lockIsFree(BOARD)).to.equal(true);
  });

  it('a non-existent image path: exit 2 before any board is touched, one line naming it', async function () {
    const reports = path.join(dir, 'missing');
    const r = await cli(['--board', BOARD, '--image', path.join(dir, 'nope.img'), '--reports', reports]);
    expect(r.code).to.equal(2);
    oneLine(r.stderr);
    expect(r.stderr).to.match(new RegExp(`--image ${dir}/nope\\.img: no such file`));
    expect(existsSync(reports), 'no report for a run that never started').to.equal(false);
    expect(await lockIsFree(BOARD)).to.equal(true);
  });

  it('a malformed board file: exit 2, one line naming the file and the line or field', async function () {
    const bad = path.join(boardsDir, 'faults-broken.yaml');
    writeFileSync(bad, 'name: faults-broken\ndescription: x\narch: [x86_64\n');
    let r = await cli(['--board', 'faults-broken']);
    expect(r.code).to.equal(2);
    oneLine(r.stderr);
    expect(r.stderr).to.match(new RegExp(`^hw-test: ${bad}:\\d+: invalid YAML: `));
    const base = readFileSync(path.join(boardsDir, `${BOARD}.yaml`), 'utf8');
    writeFileSync(
      bad,
      base.replace(`name: ${BOARD}`, 'name: faults-broken').replace(/^ {2}kernel: \d+$/m, '  kernel: soon'),
    );
    r = await cli(['--board', 'faults-broken']);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim()).to.equal(`hw-test: ${bad}: timeouts.kernel must be number`);
  });

  it('a malformed lab file: exit 2, one line naming the file and the line or field', async function () {
    const syntax = path.join(dir, 'lab-syntax.yaml');
    writeFileSync(
      syntax,
      'boards:\n  x:\n    type: qemu-x86-64\n    power: {driver: sim-gpio-relay, line: 17\n',
    );
    let r = await cli(['--board', 'x', '--lab', syntax]);
    expect(r.code).to.equal(2);
    oneLine(r.stderr);
    expect(r.stderr).to.match(new RegExp(`^hw-test: ${syntax}:\\d+: invalid YAML: `));
    const driver = path.join(dir, 'lab-driver.yaml');
    writeFileSync(
      driver,
      'boards:\n  faults-lab:\n    type: qemu-x86-64\n    power: {driver: relay-o-matic, line: 17}\n    serial: {device: qemu}\n',
    );
    r = await cli(['--board', 'faults-lab', '--lab', driver]);
    expect(r.code).to.equal(2);
    oneLine(r.stderr);
    expect(r.stderr).to.match(
      new RegExp(`^hw-test: ${driver}: boards\\.faults-lab\\.power\\.driver must be one of `),
    );
  });

  describe('the disk is full while the report is written', function () {
    let mnt: string | undefined;

    before(function () {
      if (process.getuid?.() !== 0) {
        console.log('    (skipped: mounting a tmpfs needs root)');
        this.skip();
      }
      if (!(process.env.PATH ?? '').split(':').some((d) => existsSync(path.join(d, 'qemu-system-x86_64'))))
        this.skip();
      mnt = path.join(dir, 'full');
      mkdirSync(mnt);
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'hwt-faults-full', mnt]);
      if (m.status !== 0) {
        console.log(`    (skipped: mount -t tmpfs failed: ${m.stderr.toString().trim()})`);
        mnt = undefined;
        this.skip();
      }
    });

    after(function () {
      if (mnt) spawnSync('umount', [mnt]);
    });

    it('infra (exit 3) naming the file, the board still powered off and unlocked, no half-written summary', async function () {
      const r = startCli(
        ['--board', BOARD, '--reports', mnt!, '--retries', '0', '--quarantine-after', '1000'],
        {
          HW_TEST_BOARDS_DIR: boardsDir,
        },
      );
      await r.waitFor(new RegExp(`${BOARD}: reserve done`));
      // The run folder exists; now nothing more fits.
      spawnSync('sh', ['-c', `cat /dev/zero > ${mnt}/filler`]);
      await r.waitFor(/pass {4}boot: reaches the bootloader/);
      r.kill('SIGTERM');
      const end = await r.done;
      expect(end.code, end.stderr).to.equal(3);
      expect(end.stderr).to.match(/warning: cannot write serial\.log: .*ENOSPC/);
      expect(end.stderr).to.match(
        new RegExp(`hw-test: cannot write report file ${mnt}/${BOARD}/[^/]+/summary\\.json: ENOSPC`),
      );
      expect(poweredOff(boardDisk(BOARD))).to.equal(true);
      expect(await lockIsFree(BOARD)).to.equal(true);
      const runDir = path.join(mnt!, BOARD, readdirSync(path.join(mnt!, BOARD))[0]);
      // Atomic writes: no summary.json at all rather than half of one, and no temp file left.
      expect(readdirSync(runDir).filter((f) => /summary\.json/.test(f))).to.deep.equal([]);
    });
  });
});
