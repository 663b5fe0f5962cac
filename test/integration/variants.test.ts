import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureImage } from '../../rig/image/build.js';
import type { RunSummary, TestResult } from '../../rig/report/model.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { latestRun } from '../helpers/faults.js';

/**
 * Every deliberately broken variant of the reference OS must be caught by the suite that exists
 * to catch it, with the step named, on both virtual boards. The board types are the virtual
 * boards with shorter waits, so a variant that never answers costs tens of seconds, not minutes.
 */
function boardsDir(base: string, BOARD: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-variants-boards-'));
  const shorter: Record<string, number> = { userspace: 45, login: 30, dhcp: 30, ssh: 30 };
  let y = readFileSync(path.join(ROOT, 'boards', `${base}.yaml`), 'utf8').replace(
    /^name: .*$/m,
    `name: ${BOARD}`,
  );
  for (const [k, v] of Object.entries(shorter))
    y = y.replace(new RegExp(`^  ${k}: \\d+$`, 'm'), `  ${k}: ${v}`);
  writeFileSync(path.join(dir, `${BOARD}.yaml`), y);
  return dir;
}

function byTitle(s: RunSummary, re: RegExp): TestResult {
  const t = s.tests.find((x) => re.test(x.title));
  expect(t, `a test matching ${re} in ${s.tests.map((x) => x.title).join(' | ')}`).to.exist;
  return t!;
}

for (const [base, arch] of [
  ['qemu-x86-64', 'x86_64'],
  ['qemu-armv7', 'armv7'],
] as const) {
  const BOARD = `${base}-variants`;
  describe(`reference OS variants, each caught by its suite (${base}, TCG)`, function () {
    this.timeout(900_000);
    let env: NodeJS.ProcessEnv;
    let reports: string;

    before(function () {
      env = { HW_TEST_BOARDS_DIR: boardsDir(base, BOARD) };
      reports = mkdtempSync(path.join(os.tmpdir(), 'hwt-variants-'));
    });

    async function run(
      variant: string | undefined,
      args: string[],
    ): Promise<{ code: number | null; s: RunSummary; stderr: string }> {
      const image = variant ? ['--image', (await ensureImage(arch, variant)).image] : [];
      const r = await runCli(['--board', BOARD, ...image, '--reports', reports, ...args], { env });
      return { code: r.code, s: latestRun(reports, BOARD).summary, stderr: r.stderr };
    }

    it('hang: init never reaches a login, and no panic: the boot suite fails at the stage it stopped', async function () {
      const { code, s, stderr } = await run('hang', ['--suite', 'boot']);
      expect(code, stderr).to.equal(1);
      expect(s.verdict).to.equal('fail');
      const failed = s.tests.filter((t) => t.verdict === 'fail');
      expect(failed).to.have.length(1);
      expect(failed[0].message).to.match(/not reached within \d+ s/);
      expect(failed[0].message).to.not.match(/panic/i);
      expect(byTitle(s, /reaches the bootloader/).verdict).to.equal('pass');
      expect(byTitle(s, /logs in on the console/).verdict).to.equal('skipped');
    });

    it('no-network: no DHCP client, so the network suite fails at step 1 and runs nothing after it', async function () {
      const { code, s, stderr } = await run('no-network', ['--suite', 'network']);
      expect(code, stderr).to.equal(1);
      const dhcp = byTitle(s, /^1: /);
      expect(dhcp.verdict).to.equal('fail');
      expect(dhcp.message).to.match(/no DHCP lease/);
      for (const t of s.tests.filter((x) => !/^1: /.test(x.title)))
        expect(t.verdict, t.title).to.equal('skipped');
    });

    it('no-ssh: the board gets a lease and answers mDNS, but the SSH step fails, quoting the error', async function () {
      const { code, s, stderr } = await run('no-ssh', ['--suite', 'network']);
      expect(code, stderr).to.equal(1);
      expect(byTitle(s, /^1: /).verdict).to.equal('pass');
      const ssh = byTitle(s, /^3: /);
      expect(ssh.verdict).to.equal('fail');
      expect(ssh.message).to.match(/ECONNREFUSED|no login/);
    });

    it('unbootable-update and health-fails: the board comes back to v1 by itself, with the right breadcrumb', async function () {
      const { code, s, stderr } = await run(undefined, [
        '--suite',
        'update-rollback',
        '--grep',
        'update-rollback [23]\\.',
      ]);
      expect(code, stderr).to.equal(0);
      expect(s.tests.map((t) => [t.title.slice(0, 2), t.verdict])).to.deep.equal([
        ['2.', 'pass'],
        ['3.', 'pass'],
      ]);
    });
  });
}
