import { expect } from 'chai';
import { LibgpiodChip, parseGpiodVersion, parseGpiogetValue } from '../../rig/gpio/libgpiod.js';
import { GPIOD } from '../../rig/sim/tool-output.js';
import { FakeSpawner } from '../../rig/sim/spawner.js';
import { findOnPath } from '../../rig/lab/doctor-checks.js';
import { existsSync } from 'node:fs';

describe('gpio: libgpiod tools (replayed v1 and v2 output)', () => {
  it('tells v1 from v2 by --version and parses both value formats', () => {
    expect(parseGpiodVersion(GPIOD.versionV1)).to.equal(1);
    expect(parseGpiodVersion(GPIOD.versionV2)).to.equal(2);
    expect(parseGpiodVersion('bash: gpioget: command not found')).to.equal(undefined);
    expect(parseGpiogetValue('1\n')).to.equal(1);
    expect(parseGpiogetValue(GPIOD.valueV2)).to.equal(1);
    expect(parseGpiogetValue('"17"=inactive\n')).to.equal(0);
    expect(parseGpiogetValue('what')).to.equal(undefined);
  });

  it('v1: gpioset CHIP N=V and gpioget CHIP N', async () => {
    const sp = new FakeSpawner({
      replay: [
        { match: 'gpioget --version', stdout: GPIOD.versionV1 },
        { match: 'gpioset gpiochip0 17=0', stdout: '' },
        { match: 'gpioset gpiochip0 17=1', stdout: '' },
        { match: 'gpioget gpiochip0 17', stdout: '1\n' },
      ],
    });
    const line = await new LibgpiodChip('gpiochip0', { spawner: sp }).claim(17, 'out', 0);
    await line.write(1);
    expect(await line.read()).to.equal(1);
    expect(sp.calls).to.deep.equal([
      'gpioget --version',
      'gpioset gpiochip0 17=0',
      'gpioset gpiochip0 17=1',
      'gpioget gpiochip0 17',
    ]);
  });

  it('v1: a busy line fails with the tool text', async () => {
    const sp = new FakeSpawner({
      replay: [{ match: 'gpioset gpiochip0 17=1', stderr: GPIOD.busyV1Set, code: 1 }],
    });
    const err = await new LibgpiodChip('gpiochip0', { spawner: sp, version: 1 })
      .claim(17, 'out', 1)
      .catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      'GPIO gpiochip0 line 17: gpioset: gpioset: error setting the GPIO line values: Device or resource busy',
    );
  });

  it('v2: a gpioset holds the line and is replaced on each write, stopped on release', async () => {
    const sp = new FakeSpawner({
      replay: [{ match: 'gpioget --numeric -c gpiochip0 17', stdout: '0\n' }],
      scripts: [{ match: /^gpioset --banner -c gpiochip0 17=[01]$/, stdout: GPIOD.bannerV2 }],
    });
    const line = await new LibgpiodChip('gpiochip0', { spawner: sp, version: 2 }).claim(17, 'out', 1);
    await line.write(0);
    expect(sp.running.map((h) => h.running)).to.deep.equal([false, true]);
    expect(await line.read()).to.equal(0);
    await line.release();
    expect(sp.running.every((h) => !h.running)).to.equal(true);
    expect(sp.calls).to.deep.equal([
      'gpioset --banner -c gpiochip0 17=1',
      'gpioset --banner -c gpiochip0 17=0',
      'gpioget --numeric -c gpiochip0 17',
    ]);
  });

  it('v2: a busy line and a line out of range fail with the tool text', async () => {
    const sp = new FakeSpawner({
      replay: [{ match: 'gpioget --numeric -c gpiochip0 99', stderr: GPIOD.outOfRangeV2, code: 1 }],
      scripts: [{ match: /gpioset/, stderr: GPIOD.busyV2Set, exitCode: 1 }],
    });
    const chip = new LibgpiodChip('gpiochip0', { spawner: sp, version: 2 });
    const busy = await chip.claim(17, 'out', 1).catch((e: Error) => e);
    expect((busy as Error).message).to.match(
      /line 17: gpioset: gpioset: unable to request lines: Device or resource busy$/,
    );
    const range = await chip.claim(99, 'in').catch((e: Error) => e);
    expect((range as Error).message).to.match(/offset 99 is out of range on chip 'gpiochip0'/);
  });

  it('a tool that is not installed is an infra error naming it', async () => {
    const err = await new LibgpiodChip('gpiochip0', { spawner: new FakeSpawner() })
      .read(3)
      .catch((e: Error) => e);
    expect((err as Error).message).to.match(
      /gpioget --version: cannot tell the libgpiod version: gpioget: command not found/,
    );
  });

  it('v2: a gpioset that never confirms is killed and fails after the timeout', async () => {
    const sp = new FakeSpawner({ scripts: [{ match: /gpioset/ }] });
    const err = await new LibgpiodChip('gpiochip0', { spawner: sp, version: 2, timeoutMs: 30 })
      .claim(4, 'out', 1)
      .catch((e: Error) => e);
    expect((err as Error).message).to.equal('GPIO gpiochip0 line 4: gpioset: no answer within 30 ms');
    expect(sp.running[0].running).to.equal(false);
  });

  it('the real tools: version detected, and a missing chip fails with their words', async function () {
    if (!(await findOnPath('gpioset')) || existsSync('/dev/gpiochip0')) this.skip();
    const chip = new LibgpiodChip('gpiochip0');
    expect(await chip.version()).to.be.oneOf([1, 2]);
    const err = await chip.claim(17, 'out', 1).catch((e: Error) => e);
    expect((err as Error).message).to.match(
      /^GPIO gpiochip0 line 17: gpioset: gpioset: .*(No such file or directory|cannot find)/,
    );
  });
});
