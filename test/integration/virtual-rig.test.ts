import { expect } from 'chai';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOsProfile } from '../../rig/catalog/os-profile.js';
import { VIRTUAL_LAB, loadLab } from '../../rig/catalog/lab.js';
import { createLabBoard, type LabBoard } from '../../rig/lab/lab-board.js';
import { findOnPath } from '../../rig/lab/doctor-checks.js';

/**
 * The physical sequence through the virtual rig's lab file, with the real drivers: relay off,
 * mux to host (the image's host link appears), flash through the flasher, mux to board, relay on
 * (QEMU starts), boot to the login prompt on the serial pty. QEMU runs under TCG.
 */
describe('integration: virtual rig (qemu-x86-64 behind a simulated relay and SD mux)', function () {
  this.timeout(600_000);
  let cache: string;
  let board: LabBoard | undefined;
  let image: string;

  before(async function () {
    if (!(await findOnPath('qemu-system-x86_64'))) this.skip();
    const { ensureImage } = await import('../../rig/image/build.js');
    image = (await ensureImage('x86_64', 'v1')).image;
    cache = mkdtempSync(path.join(os.tmpdir(), 'hwt-vrig-'));
  });
  afterEach(async () => {
    await board?.release();
    board = undefined;
  });
  after(() => cache && rmSync(cache, { recursive: true, force: true }));

  it('powers off, hands the card to the host, flashes, hands it back, powers on and boots to login', async () => {
    const env = { ...process.env, HW_TEST_CACHE: cache };
    board = await createLabBoard(loadLab(VIRTUAL_LAB), 'qemu-x86-64', { os: loadOsProfile(), env });
    const b = board;
    const rig = b.virtualRig!;
    const { markers, timeouts } = b.type;

    await b.power.off();
    await b.mux!.toHost();
    expect(lstatSync(b.storage).isSymbolicLink(), 'the card is visible on the host side').to.equal(true);
    const { flash } = await import('../../rig/flash/index.js');
    const flashed = await b.step('flash', () => flash(image, b.storage, { declared: [b.storage] }));
    expect(flashed.verified).to.equal(true);
    await b.mux!.toBoard();
    expect(existsSync(b.storage), 'the card left the host side').to.equal(false);
    expect(rig.qemu.running()).to.equal(false);

    await b.power.on();
    expect(rig.qemu.running(), 'the relay closed: QEMU runs').to.equal(true);
    await b.step('boot', async () => {
      await b.console.expect(new RegExp(markers.kernel), {
        timeoutMs: (timeouts.bootloader + timeouts.kernel) * 1000,
        what: 'the kernel',
      });
      await b.console.expect(/login:/, {
        timeoutMs: (timeouts.userspace + timeouts.login) * 1000,
        what: 'the login prompt',
      });
    });

    // Relay active-low: on drove line 17 low; the select line went host (1) then board (0).
    const writes = rig.chip.writes.map((w) => `${w.offset}=${w.value}`);
    expect(writes).to.deep.equal(['17=1', '22=1', '22=0', '17=0']);
    expect(b.steps.map((s) => s.name)).to.deep.equal([
      'power off',
      'mux to host',
      'flash',
      'mux to board',
      'power on',
      'boot',
    ]);
    expect(b.steps.every((s) => s.verdict === 'pass' && s.durationMs >= 0)).to.equal(true);

    // The card must not go to the host under a running board: the mux powers the board off first.
    await b.mux!.toHost();
    expect(rig.qemu.running(), 'switching the mux cut the power').to.equal(false);
    expect(b.steps.slice(-2).map((s) => s.name)).to.deep.equal(['power off', 'mux to host']);
  });
});
