import { expect } from 'chai';
import { SimGpioChip } from '../../rig/sim/gpio-chip.js';
import { GpioRelay } from '../../rig/power/gpio-relay.js';

describe('power: GPIO relay', () => {
  it('active-low: on drives the line low, off high; cycle is off, wait, on', async () => {
    const chip = new SimGpioChip('sim0');
    const relay = new GpioRelay({ name: 'b1', chip, line: 17, activeLow: true, offTimeMs: 5 });
    expect(await relay.state()).to.equal('unknown');
    await relay.on();
    expect(chip.level(17)).to.equal(0);
    expect(await relay.state()).to.equal('on');
    await relay.cycle();
    expect(chip.writes.map((w) => w.value)).to.deep.equal([0, 1, 0]);
    await relay.off();
    expect(chip.level(17)).to.equal(1);
    expect(await relay.state()).to.equal('off');
  });

  it('active-high: on drives the line high; the first command claims at its own level (no glitch)', async () => {
    const chip = new SimGpioChip('sim0');
    const relay = new GpioRelay({ name: 'b1', chip, line: 5 });
    await relay.off();
    expect(chip.writes.map((w) => w.value)).to.deep.equal([0]);
    await relay.on();
    expect(chip.level(5)).to.equal(1);
  });

  it('on and off are idempotent; close releases the line without switching', async () => {
    const chip = new SimGpioChip('sim0');
    const relay = new GpioRelay({ name: 'b1', chip, line: 5 });
    await relay.on();
    await relay.on();
    expect(chip.writes).to.have.length(1);
    await relay.close();
    expect(chip.level(5)).to.equal(1);
    expect(chip.isClaimed(5)).to.equal(false);
  });

  it('a relay that does not answer (line stuck) fails as infra with expected and actual', async () => {
    const chip = new SimGpioChip('sim0');
    const relay = new GpioRelay({ name: 'b1', chip, line: 17, activeLow: true });
    await relay.off();
    chip.setStuck(17);
    const err = await relay.on().catch((e: unknown) => e);
    expect((err as Error).message).to.equal(
      'relay b1 (sim0 line 17, active-low) did not answer: line reads 1 after writing 0 (on)',
    );
    expect(err).to.have.property('class', 'infra');
  });

  it('a busy line fails naming the relay', async () => {
    const chip = new SimGpioChip('sim0');
    chip.setBusy(17, 'used by gpio-leds');
    const err = await new GpioRelay({ name: 'b1', chip, line: 17 }).on().catch((e: Error) => e);
    expect((err as Error).message).to.match(
      /^relay b1 .*: cannot switch on: sim0: line 17 is busy \(used by gpio-leds\)$/,
    );
  });

  it('an aborted cycle stops before switching back on', async () => {
    const chip = new SimGpioChip('sim0');
    const relay = new GpioRelay({ name: 'b1', chip, line: 1, offTimeMs: 10_000 });
    await relay.on();
    const ctl = new AbortController();
    const p = relay.cycle(ctl.signal);
    setTimeout(() => ctl.abort(), 5);
    const err = await p.catch((e: unknown) => e);
    expect(err).to.have.property('class', 'interrupted');
    expect(chip.level(1)).to.equal(0);
  });
});
