import { expect } from 'chai';
import { existsSync } from 'node:fs';
import type { GpioChip } from '../../rig/gpio/gpio.js';
import { LibgpiodChip } from '../../rig/gpio/libgpiod.js';
import { SimGpioChip } from '../../rig/sim/gpio-chip.js';
import { SysfsGpioChip } from '../../rig/gpio/sysfs.js';
import { FakeSysfs } from '../../rig/sim/sysfs.js';
import { gpiodSim } from '../../rig/sim/tool-sims.js';

interface Impl {
  name: string;
  /** Why it cannot run here; undefined when it can. */
  pending?: string;
  make(): { chip: GpioChip; line: number; missingLine: number; cleanup?: () => void };
}

const real = process.env.HW_TEST_GPIO?.split(':'); // e.g. gpiochip0:21, a free line on a rig host

const IMPLS: Impl[] = [
  { name: 'simulated chip', make: () => ({ chip: new SimGpioChip('sim0', 32), line: 3, missingLine: 40 }) },
  {
    name: 'sysfs (fake tree, base 512)',
    make: () => {
      const sys = new FakeSysfs().addChip(512, 'pinctrl-bcm2711', 32, 'gpiochip0');
      return {
        chip: new SysfsGpioChip('gpiochip0', { root: sys.root, fs: sys.kernelFs }),
        line: 3,
        missingLine: 40,
        cleanup: () => sys.cleanup(),
      };
    },
  },
  {
    name: 'libgpiod v1 tools (simulated)',
    make: () => ({ chip: new LibgpiodChip('gpiochip0', { spawner: gpiodSim(1) }), line: 3, missingLine: 40 }),
  },
  {
    name: 'libgpiod v2 tools (simulated)',
    make: () => ({ chip: new LibgpiodChip('gpiochip0', { spawner: gpiodSim(2) }), line: 3, missingLine: 40 }),
  },
  {
    name: 'sysfs on this host',
    pending: !existsSync('/sys/class/gpio')
      ? 'no /sys/class/gpio here'
      : !real
        ? 'set HW_TEST_GPIO=CHIP:LINE (a free line)'
        : undefined,
    make: () => ({ chip: new SysfsGpioChip(real![0]), line: Number(real![1]), missingLine: 100_000 }),
  },
  {
    name: 'libgpiod on this host',
    pending: !existsSync('/dev/gpiochip0')
      ? 'no /dev/gpiochip0 here'
      : !real
        ? 'set HW_TEST_GPIO=CHIP:LINE (a free line)'
        : undefined,
    make: () => ({ chip: new LibgpiodChip(real![0]), line: Number(real![1]), missingLine: 100_000 }),
  },
];

for (const impl of IMPLS) {
  describe(`contract: GpioChip: ${impl.name}${impl.pending ? ` (pending: ${impl.pending})` : ''}`, () => {
    let t: ReturnType<Impl['make']>;
    beforeEach(function () {
      if (impl.pending) this.skip();
      t = impl.make();
    });
    afterEach(() => t?.cleanup?.());

    it('an output line claimed with an initial level reads it back, and follows writes', async () => {
      const line = await t.chip.claim(t.line, 'out', 1);
      expect(await line.read()).to.equal(1);
      await line.write(0);
      expect(await line.read()).to.equal(0);
      await line.write(1);
      expect(await line.read()).to.equal(1);
      await line.release();
    });

    it('release is idempotent', async () => {
      const line = await t.chip.claim(t.line, 'out', 0);
      await line.release();
      await line.release();
    });

    it('a missing line fails as infra naming the chip and the line', async () => {
      const err = await t.chip.claim(t.missingLine, 'out', 0).catch((e: unknown) => e);
      expect(err).to.have.property('class', 'infra');
      expect((err as Error).message).to.contain(t.chip.name);
      expect((err as Error).message).to.contain(String(t.missingLine));
    });
  });
}
