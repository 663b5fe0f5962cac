import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheRoot, ensureImage } from '../../rig/image/build.js';
import type { RunSummary } from '../../rig/report/model.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { expectCleanEnd } from '../helpers/faults.js';

const BOARD = 'qemu-x86-64-flasher-t';

/**
 * The virtual flasher board with shorter waits: a flasher that never ends costs 45 s, not minutes.
 * Not less: on a loaded 2-core host without KVM the flasher's kernel alone has taken 46-53 s
 * (9 s quiet), and the hang case must first see the flasher write before it stops answering.
 */
function boardsDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-flasher-boards-'));
  let y = readFileSync(path.join(ROOT, 'boards', 'qemu-x86-64-flasher.yaml'), 'utf8').replace(
    /^name: .*$/m,
    `name: ${BOARD}`,
  );
  for (const [k, v] of Object.entries({ flasher: 45, bootloader: 15 }))
    y = y.replace(new RegExp(`^  ${k}: \\d+$`, 'm'), `  ${k}: ${v}`);
  writeFileSync(path.join(dir, `${BOARD}.yaml`), y);
  return dir;
}

/** A file in the boot partition (FAT, at 1 MiB) of a disk image, or undefined when absent. */
function bootFile(disk: string, file: string): string | undefined {
  try {
    return execFileSync('mtype', ['-i', `${disk}@@1M`, `::/${file}`], {
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
  } catch {
    return undefined;
  }
}

const step = (s: RunSummary, name: string) => s.steps.find((x) => x.name === name);

describe('two-stage flasher on a virtual board with internal storage (qemu-x86-64-flasher, TCG)', function () {
  this.timeout(300_000);
  let env: NodeJS.ProcessEnv;
  let reports: string;
  const boardDir = path.join(cacheRoot(), 'boards', BOARD);
  const card = path.join(boardDir, 'sd.img');
  const internal = path.join(boardDir, 'internal.img');

  before(function () {
    env = { HW_TEST_BOARDS_DIR: boardsDir() };
    reports = mkdtempSync(path.join(os.tmpdir(), 'hwt-flasher-'));
    // A board fresh from the factory: nothing on its internal storage.
    rmSync(boardDir, { recursive: true, force: true });
  });

  async function run(variant: string | undefined, verdict: RunSummary['verdict'], exitCode: number) {
    const image = variant ? ['--image', (await ensureImage('x86_64', variant)).image] : [];
    const r = await runCli(['--board', BOARD, ...image, '--suite', 'boot', '--reports', reports], { env });
    const { dir, summary } = await expectCleanEnd({
      board: BOARD,
      reports,
      ...r,
      verdict,
      exitCode,
      serialLog: true,
      disk: card,
    });
    return { summary, serial: readFileSync(path.join(dir, 'serial.log'), 'utf8'), stderr: r.stderr };
  }

  it('boots the flasher from the card, waits for it to power down, then passes booting internal storage with the card out', async function () {
    const { summary, serial, stderr } = await run(undefined, 'pass', 0);
    expect(step(summary, 'flasher')?.verdict).to.equal('pass');
    expect(stderr).to.match(
      /the flasher wrote internal storage in \d+\.\d s \(done by "reboot: Power down" on the console\)/,
    );
    // The flasher stage, then a boot with no flasher in it.
    const flasherAt = serial.indexOf('hw-test: flasher: writing /dev/vda to /dev/vdb');
    const downAt = serial.indexOf('reboot: Power down');
    expect(flasherAt, serial).to.be.greaterThan(0);
    expect(downAt).to.be.greaterThan(flasherAt);
    const second = serial.slice(downAt);
    expect(second).to.match(/hw-test: bootloader slot=A/);
    expect(second).to.not.match(/bootloader flasher/);
    // The card still holds the flasher; internal storage holds the OS configured for this run.
    expect(bootFile(card, 'grub/flasherenv')).to.be.a('string');
    expect(bootFile(internal, 'grub/flasherenv')).to.equal(undefined);
    const hostname = summary.tests.find((t) => /this run's image/.test(t.title));
    expect(hostname?.verdict).to.equal('pass');
    expect(bootFile(internal, 'hw-test/hostname')?.trim()).to.match(/^hwt-[0-9a-f]{6}$/);
    expect(summary.tests.every((t) => t.verdict === 'pass')).to.equal(true);
  });

  it('a flasher that powers down having written nothing: the old system boots, and the run fails saying so', async function () {
    const { summary } = await run('flasher-noop', 'fail', 1);
    expect(step(summary, 'flasher')?.verdict).to.equal('pass');
    const failed = summary.tests.filter((t) => t.verdict === 'fail');
    expect(failed.map((t) => t.title)).to.deep.equal([
      "is this run's image (its hostname is the one configured for this run)",
    ]);
    expect(failed[0].message).to.match(
      /not the image written in this run: expected 'hwt-[0-9a-f]{6}' to equal 'hwt-[0-9a-f]{6}'/,
    );
  });

  it('the same flasher on blank internal storage: a silent board after a working flasher is the image, not the rig', async function () {
    rmSync(internal, { force: true });
    const { summary } = await run('flasher-noop', 'fail', 1);
    const bootloader = summary.tests.find((t) => /reaches the bootloader/.test(t.title));
    expect(bootloader?.verdict).to.equal('fail');
    expect(bootloader?.message).to.match(
      /no output at all on .* while waiting for the bootloader, though it worked during the flasher stage/,
    );
  });

  it('a flasher that never powers down: the flasher step fails (the image), and internal storage is not booted', async function () {
    const { summary, serial } = await run('flasher-hang', 'fail', 1);
    const flasher = step(summary, 'flasher');
    expect(flasher?.verdict).to.equal('fail');
    expect(flasher?.message).to.match(/the flasher to finish \(reboot: Power down\)/);
    expect(serial).to.match(/hw-test: flasher: \/dev\/vdb written/);
    expect(serial).to.not.match(/reboot: Power down/);
    expect(summary.tests).to.have.length(0);
  });

  it('on the virtual rig (simulated relay and GPIO mux): after the flasher, power on leaves the card on the host side', async function () {
    const lab = path.join(ROOT, 'boards', 'labs', 'virtual.yaml');
    const name = 'qemu-x86-64-flasher-rig';
    const r = await runCli(['--board', name, '--lab', lab, '--suite', 'boot', '--reports', reports]);
    const { summary } = await expectCleanEnd({
      board: name,
      reports,
      ...r,
      verdict: 'pass',
      exitCode: 0,
      serialLog: true,
    });
    expect(step(summary, 'flasher')?.verdict).to.equal('pass');
    // The rig's own actions in time order (a step nested in the run's may sort before or after it
    // when both start in the same ms; these never nest in each other).
    const rigSteps = ['power on', 'power off', 'power cycle', 'mux to host', 'mux to board', 'mux off'];
    const hw = summary.steps.map((x) => x.name).filter((n) => rigSteps.includes(n));
    const flasherOn = hw.lastIndexOf('mux to board');
    expect(hw.slice(flasherOn, flasherOn + 2)).to.deep.equal(['mux to board', 'power on']);
    // The flasher stage ends with the card away; the boot suite's power on does not bring it back.
    expect(hw.slice(hw.lastIndexOf('mux to host'))).to.deep.equal([
      'mux to host',
      'power on',
      'power off',
      'mux off',
    ]);
  });
});
