import { expect } from 'chai';
import { HwTestError } from '../../rig/errors.js';
import { SysfsGpioChip, resolveSysfsChip } from '../../rig/gpio/sysfs.js';
import { FakeSysfs } from '../../rig/sim/sysfs.js';

describe('gpio: sysfs driver (against a fake /sys/class/gpio)', () => {
  let sys: FakeSysfs;
  beforeEach(() => {
    sys = new FakeSysfs();
  });
  afterEach(() => sys.cleanup());

  const chip = (name: string) =>
    new SysfsGpioChip(name, { root: sys.root, fs: sys.kernelFs, exportTimeoutMs: 200 });

  it('resolves a Raspberry Pi chip numbered from 512 by label and by its char device name', async () => {
    sys.addChip(512, 'pinctrl-bcm2711', 58, 'gpiochip0').addChip(570, 'raspberrypi-exp-gpio', 8, 'gpiochip1');
    expect((await resolveSysfsChip('pinctrl-bcm2711', sys.root)).base).to.equal(512);
    expect((await resolveSysfsChip('gpiochip0', sys.root)).base).to.equal(512);
    expect((await resolveSysfsChip('gpiochip1', sys.root)).label).to.equal('raspberrypi-exp-gpio');
    expect((await chip('pinctrl-bcm2711').lineNumber(17)).gpio).to.equal(529);
  });

  it('an old kernel: chip at base 0', async () => {
    sys.addChip(0, 'pinctrl-bcm2835', 54);
    expect((await chip('gpiochip0').lineNumber(17)).gpio).to.equal(17);
  });

  it('exports base+offset, sets direction and level at once, writes, reads and unexports', async () => {
    sys.addChip(512, 'pinctrl-bcm2711', 58, 'gpiochip0');
    const line = await chip('gpiochip0').claim(17, 'out', 1);
    expect(sys.exports).to.deep.equal([529]);
    expect(sys.read(529, 'direction')).to.equal('high');
    expect(await line.read()).to.equal(1);
    await line.write(0);
    expect(sys.read(529, 'value')).to.equal('0');
    expect(await line.read()).to.equal(0);
    await line.release();
    await line.release();
    expect(sys.unexports).to.deep.equal([529]);
    expect(sys.exported(529)).to.equal(false);
  });

  it('a busy line fails as infra naming the chip, label, line and reason', async () => {
    sys.addChip(512, 'pinctrl-bcm2711', 58, 'gpiochip0');
    sys.busy.add(529);
    const err = await chip('gpiochip0')
      .claim(17, 'out', 0)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).to.be.instanceOf(HwTestError);
    expect((err as HwTestError).class).to.equal('infra');
    expect((err as Error).message).to.match(
      /gpiochip0 \(pinctrl-bcm2711, base 512\) line 17: cannot export GPIO 529: busy/,
    );
  });

  it('a line out of range and an unknown chip fail with what exists', async () => {
    sys.addChip(512, 'pinctrl-bcm2711', 58, 'gpiochip0');
    await chip('gpiochip0')
      .claim(60, 'out', 0)
      .then(
        () => expect.fail('claimed'),
        (e: Error) => expect(e.message).to.match(/line 60 out of range 0\.\.57/),
      );
    await chip('gpiochip7')
      .claim(1, 'in')
      .then(
        () => expect.fail('claimed'),
        (e: Error) =>
          expect(e.message).to.match(
            /"gpiochip7" not found .*gpiochip512 \(label pinctrl-bcm2711, base 512\)/,
          ),
      );
  });

  it('a host with no sysfs GPIO says so and points to libgpiod', async () => {
    await new SysfsGpioChip('gpiochip0', { root: `${sys.root}/nope` }).claim(1, 'in').then(
      () => expect.fail('claimed'),
      (e: Error) => expect(e.message).to.match(/no sysfs GPIO interface.*libgpiod/),
    );
  });

  it('a line whose files stay unwritable (no udev rule) fails after the export settle time, unexported again', async () => {
    sys.addChip(512, 'pinctrl-bcm2711', 58, 'gpiochip0');
    const fs = {
      ...sys.kernelFs,
      writeFile: (p: string, d: string) => {
        if (p.endsWith('/direction')) {
          const e: NodeJS.ErrnoException = new Error('EACCES');
          e.code = 'EACCES';
          return Promise.reject(e);
        }
        return sys.kernelFs.writeFile(p, d);
      },
    };
    const err = await new SysfsGpioChip('gpiochip0', { root: sys.root, fs, exportTimeoutMs: 60 })
      .claim(17, 'out', 0)
      .catch((e: Error) => e);
    expect((err as Error).message).to.match(
      /cannot set direction of GPIO 529: permission denied \(run as root or add a udev rule/,
    );
    expect(sys.unexports).to.deep.equal([529]);
  });
});
