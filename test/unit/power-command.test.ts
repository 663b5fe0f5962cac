import { expect } from 'chai';
import { CommandPower } from '../../rig/power/command.js';
import { FakeSpawner } from '../../rig/sim/spawner.js';

describe('power: external command pair (PDU)', () => {
  const argv = (v: string) => [
    'snmpset',
    '-v1',
    '-c',
    'private',
    'pdu-01',
    'PowerNet-MIB::sPDUOutletCtl.3',
    'i',
    v,
  ];

  it('runs the on and off commands, and reads the state command', async () => {
    const sp = new FakeSpawner({
      replay: [
        { match: /snmpset .* i 1$/, stdout: 'PowerNet-MIB::sPDUOutletCtl.3 = INTEGER: outletOn(1)\n' },
        { match: /snmpset .* i 2$/, stdout: 'PowerNet-MIB::sPDUOutletCtl.3 = INTEGER: outletOff(2)\n' },
        { match: 'pdu-state 3', stdout: 'outlet 3: ON\n' },
      ],
    });
    const p = new CommandPower({
      name: 'bbb-1',
      on: argv('1'),
      off: argv('2'),
      state: ['pdu-state', '3'],
      spawner: sp,
      offTimeMs: 1,
    });
    await p.cycle();
    expect(sp.calls.map((c) => c.slice(-3))).to.deep.equal(['i 2', 'i 1']);
    expect(await p.state()).to.equal('on');
  });

  it('a failing command is an infra error quoting its stderr', async () => {
    const sp = new FakeSpawner({
      replay: [{ match: /snmpset/, stderr: 'Timeout: No Response from pdu-01.\n', code: 1 }],
    });
    const err = await new CommandPower({ name: 'bbb-1', on: argv('1'), off: argv('2'), spawner: sp })
      .on()
      .catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      'power bbb-1: on command failed (exit 1): Timeout: No Response from pdu-01.',
    );
    expect(err).to.have.property('class', 'infra');
  });

  it('a state command that says neither on nor off is an error; without one, state is what was last done', async () => {
    const sp = new FakeSpawner({ replay: [{ match: 'pdu-state 3', stdout: 'outlet 3: rebooting\n' }] });
    const withState = new CommandPower({
      name: 'x',
      on: ['true'],
      off: ['true'],
      state: ['pdu-state', '3'],
      spawner: sp,
    });
    await withState.state().then(
      () => expect.fail('parsed'),
      (e: Error) => expect(e.message).to.match(/printed neither on nor off: "outlet 3: rebooting"/),
    );
    const plain = new CommandPower({
      name: 'x',
      on: ['true'],
      off: ['true'],
      spawner: new FakeSpawner({ replay: [{ match: 'true' }] }),
    });
    expect(await plain.state()).to.equal('unknown');
    await plain.off();
    expect(await plain.state()).to.equal('off');
  });
});
