import { expect } from 'chai';
import { FakeSpawner } from '../../rig/sim/spawner.js';

/** The one fake spawner every driver test and tool simulation uses (rig/sim/spawner.ts). */
describe('sim: the fake spawner', () => {
  it('replays recorded answers by command line, at most `times` times, with their side effects', async () => {
    let flipped = 0;
    const sp = new FakeSpawner({
      replay: [
        { match: 'usbsdmux /dev/sg2 get', stdout: 'host\n', times: 1, effect: () => flipped++ },
        { match: /^usbsdmux /, stdout: 'dut\n' },
      ],
    });
    expect((await sp.run('usbsdmux', ['/dev/sg2', 'get'])).stdout).to.equal('host\n');
    expect((await sp.run('usbsdmux', ['/dev/sg2', 'get'])).stdout).to.equal('dut\n');
    expect(flipped).to.equal(1);
    expect(sp.calls).to.deep.equal(['usbsdmux /dev/sg2 get', 'usbsdmux /dev/sg2 get']);
  });

  it('answers from a tool simulation where nothing was recorded, and 127 where nothing answers', async () => {
    const sp = new FakeSpawner({
      tool: (cmd, args) => (cmd === 'pdu' ? { stdout: `outlet ${args[1]}: ON\n` } : { code: 2 }),
    });
    const r = await sp.run('pdu', ['state', '3'], { env: { X: '1' } });
    expect(r).to.include({ code: 0, stdout: 'outlet 3: ON\n' });
    expect(sp.runs[0]).to.deep.equal({ cmd: 'pdu', args: ['state', '3'], env: { X: '1' } });
    expect(await new FakeSpawner().run('uhubctl', [])).to.include({
      code: 127,
      stderr: 'uhubctl: command not found\n',
    });
  });

  it('starts scripted long-running tools: printing, then running on or exiting', async () => {
    const sp = new FakeSpawner({
      scripts: [
        { match: /^gpioset --banner/, stdout: 'Press enter\n' },
        { match: /^qemu/, stderr: 'bad drive\n', exitCode: 1 },
      ],
    });
    const holder = sp.start('gpioset', ['--banner', '-c', 'gpiochip0', '17=1']);
    const dying = sp.start('qemu', ['-drive', 'x']);
    expect(await dying.exited).to.deep.equal({ code: 1, signal: null });
    expect(holder.running).to.equal(true);
    await holder.stop();
    expect(sp.running.map((h) => h.running)).to.deep.equal([false, false]);
  });
});
