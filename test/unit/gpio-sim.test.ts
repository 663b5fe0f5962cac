import { expect } from 'chai';
import { SimGpioChip } from '../../rig/sim/gpio-chip.js';

describe('gpio: simulated chip', () => {
  it('records every write with a timestamp and tells listeners of changes only', async () => {
    const chip = new SimGpioChip('sim0');
    const seen: number[] = [];
    chip.onChange(4, (v) => {
      seen.push(v);
    });
    const line = await chip.claim(4, 'out', 1);
    await line.write(1);
    await line.write(0);
    expect(chip.writes.map((w) => [w.offset, w.value])).to.deep.equal([
      [4, 1],
      [4, 1],
      [4, 0],
    ]);
    expect(chip.writes.every((w, i) => i === 0 || w.t >= chip.writes[i - 1].t)).to.equal(true);
    expect(seen).to.deep.equal([1, 0]);
  });

  it('busy, missing and double-claimed lines fail as infra; released lines refuse writes', async () => {
    const chip = new SimGpioChip('sim0', 8);
    chip.setBusy(2, 'used by gpio-leds');
    await chip.claim(2, 'out', 0).then(
      () => expect.fail('claimed'),
      (e: Error) => expect(e.message).to.equal('sim0: line 2 is busy (used by gpio-leds)'),
    );
    await chip.claim(9, 'in').then(
      () => expect.fail('claimed'),
      (e: Error) => expect(e.message).to.match(/line 9 does not exist/),
    );
    const a = await chip.claim(3, 'out', 0);
    await chip.claim(3, 'out', 0).then(
      () => expect.fail('claimed twice'),
      (e: Error) => expect(e.message).to.match(/busy/),
    );
    await a.release();
    await a.write(1).then(
      () => expect.fail('written'),
      (e: Error) => expect(e.message).to.match(/after release/),
    );
  });

  it('a listener that throws fails the write (a virtual relay whose board cannot start)', async () => {
    const chip = new SimGpioChip();
    chip.onChange(1, () => {
      throw new Error('qemu: cannot start');
    });
    const line = await chip.claim(1, 'out', 0);
    await line.write(1).then(
      () => expect.fail('written'),
      (e: Error) => expect(e.message).to.equal('qemu: cannot start'),
    );
  });
});
