import { expect } from 'chai';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureImage } from '../../rig/image/build.js';
import type { RunSummary } from '../../rig/report/model.js';
import { runCli } from '../helpers/cli.js';
import { validateJunit } from '../../rig/report/junit-schema/validate.js';

function hasQemu(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => existsSync(path.join(d, bin)));
}

function latest(reports: string, board: string): { dir: string; summary: RunSummary } {
  const link = path.join(reports, board, 'latest');
  expect(lstatSync(link).isSymbolicLink(), 'latest is a symlink').to.equal(true);
  const dir = path.join(reports, board, readlinkSync(link));
  return { dir, summary: JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary };
}

/** The quick start's job, for real: QEMU boots the reference image through its own bootloader. */
for (const [board, bin, arch] of [
  ['qemu-x86-64', 'qemu-system-x86_64', 'x86_64'],
  ['qemu-armv7', 'qemu-system-arm', 'armv7'],
] as const) {
  describe(`boot suite on ${board} (QEMU, software emulation)`, function () {
    this.timeout(600_000);
    let reports: string;

    before(function () {
      if (!hasQemu(bin)) this.skip();
      reports = mkdtempSync(path.join(os.tmpdir(), `hwt-boot-${board}-`));
    });

    it('passes on the good image and writes the whole report layout', async function () {
      const r = await runCli(['--board', board, '--reports', reports]);
      expect(r.code, r.stderr).to.equal(0);
      const { dir, summary } = latest(reports, board);
      for (const f of ['junit.xml', 'serial.log', 'summary.json', 'allure-results']) {
        expect(existsSync(path.join(dir, f)), f).to.equal(true);
      }
      expect(summary.verdict).to.equal('pass');
      expect(summary.image.sha256).to.match(/^[0-9a-f]{64}$/);
      expect(summary.tests.map((t) => t.verdict)).to.deep.equal(Array(7).fill('pass'));
      expect(summary.stages.map((s) => s.stage)).to.deep.equal([
        'bootloader',
        'kernel',
        'userspace',
        'login',
        'shell',
      ]);
      for (const s of summary.stages) expect(s.atMs, s.stage).to.be.greaterThan(0);
      const serial = readFileSync(path.join(dir, 'serial.log'), 'utf8');
      expect(serial).to.match(/Linux version/);
      expect(serial).to.match(/login:/);
      // The per-run hostname was configured into the image and the board used it.
      expect(serial).to.match(/hwt-[0-9a-f]{6} login:/);
      const junit = readFileSync(path.join(dir, 'junit.xml'), 'utf8');
      expect(junit).to.match(/<testsuite name="[^"]+\.boot" tests="7" failures="0" errors="0"/);
      await validateJunit(path.join(dir, 'junit.xml'));
      const allure = (suffix: string) =>
        readdirSync(path.join(dir, 'allure-results'))
          .filter((f) => f.endsWith(suffix))
          .map((f) => readFileSync(path.join(dir, 'allure-results', f), 'utf8'));
      const results = allure('-result.json');
      expect(results.join('\n')).to.match(/"status":"passed"/);
      // Each test carries its console excerpt and its stage time into Allure (in its teardown,
      // the afterEach container that allure-mocha links to the test).
      const stage = results.find((r) => r.includes('reaches the bootloader'))!;
      const uuid = (JSON.parse(stage) as { uuid: string }).uuid;
      const teardown = allure('-container.json').find(
        (c) => c.includes(uuid) && c.includes('"name":"timings"'),
      );
      expect(teardown, 'a teardown with the timings attachment').to.exist;
      expect(teardown).to.match(/"name":"console"/);
    });

    it('fails (exit 1, verdict fail) on an image whose kernel panics, quoting the panic line', async function () {
      const panic = await ensureImage(arch, 'kernel-panic');
      const r = await runCli(['--board', board, '--image', panic.image, '--reports', reports]);
      expect(r.code, r.stderr).to.equal(1);
      const { dir, summary } = latest(reports, board);
      expect(summary.verdict).to.equal('fail');
      const failed = summary.tests.filter((t) => t.verdict === 'fail');
      expect(failed).to.have.length(1);
      expect(failed[0].message).to.match(/Kernel panic - not syncing/);
      const junit = readFileSync(path.join(dir, 'junit.xml'), 'utf8');
      expect(junit).to.match(/<failure type="fail" message="[^"]*Kernel panic - not syncing/);
      await validateJunit(path.join(dir, 'junit.xml'));
      // Stages after the panic are skipped with the reason, not passed and not errors.
      const after = summary.tests.filter((t) => /login|command/.test(t.title));
      expect(
        after.every((t) => t.verdict === 'skipped' && /boot failed before/.test(t.skipReason ?? '')),
      ).to.equal(true);
    });
  });
}
