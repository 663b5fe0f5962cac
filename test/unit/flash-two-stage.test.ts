import { expect } from 'chai';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { StreamConsole } from '../../rig/console/stream-console.js';
import { InfraError, TimeoutError } from '../../rig/errors.js';
import { SimGpioChip } from '../../rig/sim/gpio-chip.js';
import { GpioRelay } from '../../rig/power/gpio-relay.js';
import { createVirtualMux } from '../../rig/sim/virtual-mux.js';
import { runTwoStage } from '../../rig/flash/two-stage.js';
import { tmpDir } from './flash-helpers.js';

const RELAY = 3;
const SELECT = 4;

/**
 * A board with a flasher on its SD card and a second disk (eMMC): when powered with the card on its
 * side it runs the flasher (copies the card to the eMMC, prints `reboot: Power down`, draws no
 * current); otherwise it boots from the eMMC. Wired through the real relay and GPIO mux drivers
 * over a simulated chip, as the virtual rig is.
 */
function rig(opts: { flasher?: 'done' | 'silent' | 'hangs' | 'fails' } = {}) {
  const dir = tmpDir('hwt-2stage-');
  const chip = new SimGpioChip('sim-2stage');
  const card = join(dir, 'sd.img');
  const emmc = join(dir, 'emmc.img');
  writeFileSync(card, 'FLASHER+OS');
  const serial = new PassThrough();
  const console = new StreamConsole({ name: 'uart', input: serial });
  let amps = 0;
  const booted: string[] = [];
  const { mux, card: simCard } = createVirtualMux({
    name: 'mux',
    chip,
    select: { line: SELECT },
    image: card,
    hostLink: join(dir, 'by-id/usb-sd-mux'),
  });
  chip.onChange(RELAY, (level) => {
    if (level !== 1) {
      amps = 0;
      return;
    }
    const cardOnBoard = chip.isClaimed(SELECT) && chip.level(SELECT) !== 1;
    if (cardOnBoard) {
      booted.push('sd');
      amps = 0.8;
      const flasher = opts.flasher ?? 'done';
      if (flasher === 'hangs') serial.write('flashing eMMC...\r\n');
      if (flasher === 'fails') serial.write('flashing eMMC... FAILED: I/O error\r\n');
      if (flasher !== 'done' && flasher !== 'silent') return;
      setTimeout(() => {
        copyFileSync(card, emmc);
        if (flasher === 'done') serial.write('flashing eMMC... done\r\nreboot: Power down\r\n');
        amps = 0.01;
      }, 20);
    } else {
      booted.push(existsSync(emmc) ? `emmc:${readFileSync(emmc, 'utf8')}` : 'nothing');
    }
  });
  const power = new GpioRelay({ name: 'relay', chip, line: RELAY, offTimeMs: 0, settleMs: 0 });
  return { chip, mux, simCard, power, console, booted, current: () => Promise.resolve(amps) };
}

describe('flash: two-stage flasher images', function () {
  it('boots the flasher from SD, waits for "reboot: Power down", then boots from internal storage with the card on the host side', async function () {
    const r = rig();
    await r.console.open();
    const res = await runTwoStage(
      { name: 'bbb-1', power: r.power, mux: r.mux, console: r.console },
      { flasherDone: 'reboot: Power down', timeoutMs: 5000 },
    );
    expect(res.doneBy).to.equal('console');
    expect(r.booted).to.deep.equal(['sd', 'emmc:FLASHER+OS']);
    expect(await r.mux.state()).to.equal('host');
    expect(await r.power.state()).to.equal('on');
    await r.simCard.dispose();
  });

  it("falls back on the power switch's current reading when the flasher prints nothing", async function () {
    const r = rig({ flasher: 'silent' });
    await r.console.open();
    const power = Object.assign(r.power, { current: r.current });
    const res = await runTwoStage(
      { name: 'nuc-1', power, mux: r.mux, console: r.console },
      { flasherDone: 'reboot: Power down', timeoutMs: 5000, currentPollMs: 5 },
    );
    expect(res.doneBy).to.equal('current');
    expect(r.booted).to.deep.equal(['sd', 'emmc:FLASHER+OS']);
    await r.simCard.dispose();
  });

  it('fails (the image is at fault) when the flasher never finishes, and does not boot internal storage', async function () {
    const r = rig({ flasher: 'hangs' });
    await r.console.open();
    const err = await runTwoStage(
      { name: 'bbb-2', power: r.power, mux: r.mux, console: r.console },
      { flasherDone: 'reboot: Power down', timeoutMs: 200 },
    ).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TimeoutError);
    expect((err as TimeoutError).class).to.equal('fail');
    expect((err as TimeoutError).context.board).to.equal('bbb-2');
    expect(r.booted).to.deep.equal(['sd']);
    await r.simCard.dispose();
  });

  it('is an infra error, naming the console, when the board neither speaks nor draws current', async function () {
    const r = rig({ flasher: 'silent' });
    await r.console.open();
    const err = await runTwoStage(
      { name: 'bbb-3', power: r.power, mux: r.mux, console: r.console },
      { flasherDone: 'reboot: Power down', timeoutMs: 200 },
    ).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InfraError);
    expect((err as Error).message).to.match(/no output at all on uart while waiting for the flasher/);
    await r.simCard.dispose();
  });

  it("stops at once on the flasher's failure line, without waiting out the timeout", async function () {
    const r = rig({ flasher: 'fails' });
    await r.console.open();
    const t0 = Date.now();
    const err = await runTwoStage(
      { name: 'bbb-4', power: r.power, mux: r.mux, console: r.console },
      {
        flasherDone: 'reboot: Power down',
        timeoutMs: 60_000,
        failOn: [{ name: 'flasher-failed', pattern: /FAILED/, severity: 'fatal' }],
      },
    ).catch((e: unknown) => e);
    expect(Date.now() - t0).to.be.below(30_000);
    expect((err as Error & { class?: string }).class).to.equal('fail');
    expect((err as Error).message).to.match(/FAILED: I\/O error/);
    expect(r.booted).to.deep.equal(['sd']);
    await r.simCard.dispose();
  });

  it('leaves the board off with the card on the host side when the run boots it itself', async function () {
    const r = rig();
    await r.console.open();
    await runTwoStage(
      { name: 'bbb-5', power: r.power, mux: r.mux, console: r.console },
      { flasherDone: 'reboot: Power down', timeoutMs: 5000, powerOnAfter: false },
    );
    expect(r.booted).to.deep.equal(['sd']);
    expect(await r.mux.state()).to.equal('host');
    expect(await r.power.state()).to.equal('off');
    await r.simCard.dispose();
  });
});
