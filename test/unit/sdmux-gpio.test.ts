import { expect } from 'chai';
import { existsSync, lstatSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SimGpioChip } from '../../rig/sim/gpio-chip.js';
import { GpioMux } from '../../rig/sdmux/gpio-mux.js';
import { createVirtualMux } from '../../rig/sim/virtual-mux.js';
import { FakeWaitEnv } from '../../rig/sim/wait-env.js';

describe('sdmux: GPIO-switched mux (autohat style)', () => {
  it('cuts card power, selects, restores power; reads the state back from the lines', async () => {
    const chip = new SimGpioChip('sim0');
    const env = new FakeWaitEnv();
    // The card reader sees the card when it is selected to the host and powered.
    const card = () => {
      if (chip.level(5) === 1 && chip.level(6) === 1) env.present.add('/dev/sdx');
      else env.present.delete('/dev/sdx');
    };
    chip.onChange(5, card);
    chip.onChange(6, card);
    const mux = new GpioMux({
      name: 'bbb-1',
      chip,
      select: { line: 5, hostLevel: 1 },
      power: { line: 6 },
      powerOffMs: 1,
      hostDevice: '/dev/sdx',
      waitEnv: env,
    });
    await mux.toHost();
    expect(chip.writes.map((w) => `${w.offset}=${w.value}`)).to.deep.equal(['6=0', '5=1', '6=1']);
    expect(await mux.state()).to.equal('host');
    await mux.off();
    expect(await mux.state()).to.equal('off');
    await mux.toBoard();
    expect(await mux.state()).to.equal('board');
    await mux.close();
    expect(chip.isClaimed(5)).to.equal(false);
  });

  it('a select line held by another user fails naming the mux', async () => {
    const chip = new SimGpioChip('sim0');
    chip.setBusy(5);
    const err = await new GpioMux({
      name: 'b',
      chip,
      select: { line: 5 },
      hostDevice: '/dev/sdx',
      waitEnv: new FakeWaitEnv(),
    })
      .toHost()
      .catch((e: Error) => e);
    expect((err as Error).message).to.match(
      /^mux gpio-mux sim0 select line 5 \(b\): cannot switch to host: sim0: line 5 is busy/,
    );
  });
});

describe('sdmux: virtual mux (QEMU disk image behind a simulated select line)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-vmux-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the image appears at the host link on the host side and vanishes on the board side', async () => {
    const chip = new SimGpioChip('sim0');
    const image = path.join(dir, 'disk.img');
    writeFileSync(image, 'card');
    const hostLink = path.join(dir, 'rig', 'sd');
    const { mux, card } = createVirtualMux({ name: 'q', chip, select: { line: 22 }, image, hostLink });
    await mux.toHost();
    expect(lstatSync(hostLink).isSymbolicLink()).to.equal(true);
    expect(readlinkSync(hostLink)).to.equal(image);
    await card.imageForBoard().then(
      () => expect.fail('QEMU may not open a card on the host side'),
      (e: Error) => expect(e.message).to.match(/on the host side/),
    );
    await mux.toBoard();
    expect(existsSync(hostLink)).to.equal(false);
    expect(await card.imageForBoard()).to.equal(image);
    await card.dispose();
  });

  it('refuses to hand the card to the host under a running board', async () => {
    const chip = new SimGpioChip('sim0');
    const image = path.join(dir, 'disk.img');
    const { mux } = createVirtualMux({
      name: 'q',
      chip,
      select: { line: 22 },
      image,
      hostLink: path.join(dir, 'sd'),
      boardRunning: () => true,
    });
    const err = await mux.toHost().catch((e: Error) => e);
    expect((err as Error).message).to.match(/the board is running; power it off before switching/);
    expect(existsSync(path.join(dir, 'sd'))).to.equal(false);
  });
});
