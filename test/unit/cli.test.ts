import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { reproduceCommand } from '../../rig/cli/run.js';
import { runCli } from '../helpers/cli.js';

describe('CLI', function () {
  this.timeout(20_000);

  it('prints its help with the exit codes, exit 0', async function () {
    const r = await runCli(['--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/--board NAME/);
    expect(r.stdout).to.match(/3 infrastructure error/);
  });

  it('exits 2 and lists the known boards for an unknown board', async function () {
    const r = await runCli(['--board', 'nope']);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim()).to.match(
      /^hw-test: unknown board "nope": known boards are .*qemu-armv7.*qemu-x86-64/,
    );
    expect(r.stderr.trim().split('\n')).to.have.length(1);
  });

  it('exits 2 for an unknown option, naming it', async function () {
    const r = await runCli(['--board', 'qemu-x86-64', '--bogus']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/unknown option '--bogus'/);
  });

  it('exits 2 for an unknown suite before touching a board, listing the suites', async function () {
    const reports = mkdtempSync(path.join(os.tmpdir(), 'hwt-cli-'));
    const r = await runCli(['--board', 'qemu-x86-64', '--suite', 'bogus', '--reports', reports]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/unknown suite "bogus": suites are .*boot/);
  });

  it('exits 2 for an image that does not exist, naming it', async function () {
    const reports = mkdtempSync(path.join(os.tmpdir(), 'hwt-cli-'));
    const r = await runCli([
      '--board',
      'qemu-x86-64',
      '--image',
      '/nonexistent/os.img',
      '--reports',
      reports,
    ]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/--image \/nonexistent\/os\.img: no such file/);
  });

  it('takes --timeout STAGE=S: listed in --help, kept in the reproduce line, bad input in one line (exit 2)', async function () {
    const help = await runCli(['--help']);
    expect(help.stdout).to.match(/--timeout STAGE=S\[,STAGE=S\.\.\.\]\s+this run's limits in seconds/);
    expect(reproduceCommand({ suite: 'boot', timeout: 'login=300,kernel=90' }, 'qemu-x86-64')).to.equal(
      'npm run hw-test -- --board qemu-x86-64 --suite boot --timeout login=300,kernel=90',
    );
    const reports = mkdtempSync(path.join(os.tmpdir(), 'hwt-cli-'));
    for (const bad of ['login=soon', 'boredom=3']) {
      const r = await runCli(['--board', 'qemu-x86-64', '--timeout', bad, '--reports', reports]);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.match(new RegExp(`--timeout ${bad}: expected STAGE=SECONDS`));
    }
  });

  it('exits 2 for real hardware with no lab file, pointing to the wiring documentation', async function () {
    const r = await runCli(['--board', 'odroid-xu4'], { env: { HW_TEST_LAB: '' } });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/odroid-xu4 is real hardware .*--lab FILE.*docs\/wiring\.md/);
  });

  it('lists the boards with arch, capabilities and where they are', async function () {
    const r = await runCli(['boards'], { env: { HW_TEST_LAB: '' } });
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^qemu-x86-64\s+x86_64\s+ethernet,wifi,update\s+virtual$/m);
    expect(r.stdout).to.match(/^raspberrypi3\s+armv7\s+ethernet,wifi,update,usb,bluetooth\s+not wired$/m);
  });

  it('exits 2 for an unknown subcommand', async function () {
    const r = await runCli(['frobnicate']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/unknown command "frobnicate"/);
  });
});
