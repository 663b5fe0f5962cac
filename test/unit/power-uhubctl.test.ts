import { expect } from 'chai';
import { UhubctlPower, portState } from '../../rig/power/uhubctl.js';
import { FakeSpawner } from '../../rig/sim/spawner.js';
import { findOnPath } from '../../rig/lab/doctor-checks.js';
import { UHUBCTL } from '../../rig/sim/tool-output.js';

describe('power: uhubctl (replayed output)', () => {
  const make = (sp: FakeSpawner, port = 2, location = UHUBCTL.hub) =>
    new UhubctlPower({ name: 'rpi3-1', location, port, spawner: sp, offTimeMs: 1 });

  it('parses the port state from the Current and New status blocks', () => {
    const out = UHUBCTL.switched(2, true, false);
    expect(portState(out, 2, 'Current status')).to.equal('on');
    expect(portState(UHUBCTL.status(2, true), 2, 'Current status')).to.equal('on');
    expect(portState(out, 2, 'New status')).to.equal('off');
    expect(portState(out, 3, 'New status')).to.equal(undefined);
  });

  it('switches with -l LOCATION -p PORT -a on|off and checks the new status', async () => {
    const sp = new FakeSpawner({
      replay: [
        { match: 'uhubctl -l 1-1.3 -p 2 -a off', stdout: UHUBCTL.switched(2, true, false) },
        { match: 'uhubctl -l 1-1.3 -p 2 -a on', stdout: UHUBCTL.switched(2, false, true) },
        { match: 'uhubctl -l 1-1.3 -p 2', stdout: UHUBCTL.status(2, true) },
      ],
    });
    const p = make(sp);
    await p.cycle();
    expect(await p.state()).to.equal('on');
    expect(sp.calls).to.deep.equal([
      'uhubctl -l 1-1.3 -p 2 -a off',
      'uhubctl -l 1-1.3 -p 2 -a on',
      'uhubctl -l 1-1.3 -p 2',
    ]);
  });

  it('a port the hub does not have fails naming the hub and its port count', async () => {
    const sp = new FakeSpawner({ replay: [{ match: /uhubctl/, stdout: UHUBCTL.noPort }] });
    const err = await make(sp, 9)
      .on()
      .catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      'uhubctl hub 1-1.3 port 9 (rpi3-1): hub 1-1.3 has no port 9 (it has 4 ports)',
    );
    expect(err).to.have.property('class', 'infra');
  });

  it("no hub at the location fails with uhubctl's own words", async () => {
    const sp = new FakeSpawner({ replay: [{ match: /uhubctl/, stderr: UHUBCTL.noHub, code: 1 }] });
    const err = await make(sp, 2, '1-9')
      .off()
      .catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      'uhubctl hub 1-9 port 2 (rpi3-1): No compatible devices detected at location 1-9!',
    );
  });

  it('a port that stays powered after off (a hub without per-port switching) is an infra error', async () => {
    const sp = new FakeSpawner({ replay: [{ match: /-a off/, stdout: UHUBCTL.switched(2, true, true) }] });
    const err = await make(sp)
      .off()
      .catch((e: Error) => e);
    expect((err as Error).message).to.match(/did not switch off: the hub reports it on$/);
  });

  it('uhubctl not installed', async () => {
    const err = await make(new FakeSpawner())
      .on()
      .catch((e: Error) => e);
    expect((err as Error).message).to.match(/uhubctl: command not found/);
  });

  it('the real uhubctl, where no hub is at the location, fails the same way as the replay', async function () {
    if (!(await findOnPath('uhubctl'))) this.skip();
    const err = await new UhubctlPower({ name: 'rpi3-1', location: '1-9', port: 2 })
      .on()
      .catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      'uhubctl hub 1-9 port 2 (rpi3-1): No compatible devices detected at location 1-9!',
    );
  });
});
