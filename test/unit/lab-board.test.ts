import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadLab } from '../../rig/catalog/lab.js';
import { loadOsProfile } from '../../rig/catalog/os-profile.js';
import { createLabBoard, type LabBoard } from '../../rig/lab/lab-board.js';
import { uhubctlSim } from '../../rig/sim/tool-sims.js';
import { FakeSpawner } from '../../rig/sim/spawner.js';
import { UHUBCTL } from '../../rig/sim/tool-output.js';

describe("lab board composition (order is the board's business)", () => {
  let dir: string;
  let board: LabBoard | undefined;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-labboard-'));
  });
  afterEach(async () => {
    await board?.release().catch(() => {});
    board = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A Raspberry Pi on a uhubctl port with an SDWire whose card shows up in a real temp dir. */
  const make = async (withMux = true) => {
    const dev = path.join(dir, 'card');
    const lab = path.join(dir, 'lab.yaml');
    writeFileSync(
      lab,
      `boards:
  rpi3-1:
    type: raspberrypi3
    power: { driver: uhubctl, location: ${UHUBCTL.hub}, port: 2, offTimeMs: 1 }
${withMux ? `    mux: { driver: sdwire, serial: sd-wire_11, device: ${dev}, timeoutMs: 2000 }\n` : ''}    serial: { device: /dev/serial/by-id/usb-nothing }
`,
    );
    const order: string[] = [];
    const hub = uhubctlSim();
    const spawner = new FakeSpawner({
      tool: (cmd, args) => {
        if (cmd === 'uhubctl') {
          if (args.includes('-a')) order.push(`power ${args.at(-1)}`);
          return hub.handler(cmd, args);
        }
        const flag = args.at(-1)!;
        if (flag === '--ts') writeFileSync(dev, '');
        if (flag === '--dut') rmSync(dev, { force: true });
        if (flag !== '--status') order.push(`mux ${flag}`);
        return { stdout: 'SD connected to: DUT\n' };
      },
    });
    board = await createLabBoard(loadLab(lab), 'raspberrypi3', { os: loadOsProfile(), spawner });
    return { board, order, dev };
  };

  it('switching the mux powers the board off first; power on moves the card to the board first', async () => {
    const { board: b, order, dev } = await make();
    await b.power.on();
    await b.mux!.toHost();
    expect(b.storage).to.equal(dev);
    await b.power.on();
    expect(order).to.deep.equal([
      'power off',
      'mux --dut',
      'power on',
      'power off',
      'mux --ts',
      'mux --dut',
      'power on',
    ]);
    expect(b.steps.map((s) => s.name)).to.deep.equal([
      'power off',
      'mux to board',
      'power on',
      'power off',
      'mux to host',
      'mux to board',
      'power on',
    ]);
    await b.release();
    expect(order.slice(-2)).to.deep.equal(['power off', 'mux --dut']);
  });

  it('a failing step is recorded with its verdict class and message', async () => {
    const { board: b } = await make();
    const err = await b.step('flash', () => Promise.reject(new Error('boom'))).catch((e: Error) => e);
    expect(err.message).to.equal('boom');
    expect(b.steps.at(-1)).to.include({ name: 'flash', verdict: 'error', message: 'boom' });
  });

  it('a board with no mux has nothing to flash: bad input naming the field', async () => {
    const { board: b } = await make(false);
    expect(() => b.storage).to.throw(/boards\.rpi3-1 has no mux: nothing to flash through/);
  });

  it('release reports a power switch that fails, and never moves the card under a board it could not power off', async () => {
    const lab = path.join(dir, 'lab.yaml');
    writeFileSync(
      lab,
      `boards:\n  rpi3-1:\n    type: raspberrypi3\n    power: { driver: uhubctl, location: 1-9, port: 2 }\n    mux: { driver: sdwire, serial: s, device: ${path.join(dir, 'c')} }\n    serial: { device: /dev/null }\n`,
    );
    const calls: string[] = [];
    const spawner = new FakeSpawner({
      tool: (cmd, args) => {
        calls.push(`${cmd} ${args.at(-1)}`);
        return cmd === 'uhubctl' ? { stderr: UHUBCTL.noHub, code: 1 } : {};
      },
    });
    const b = await createLabBoard(loadLab(lab), 'rpi3-1', { os: loadOsProfile(), spawner });
    const err = await b.release().catch((e: Error) => e);
    expect((err as Error).message).to.match(/No compatible devices detected at location 1-9!/);
    expect(calls.filter((c) => c.startsWith('sd-mux-ctrl'))).to.deep.equal([]);
  });

  it('a QEMU board without the simulated relay and mux: QEMU power, its disk image as storage', async () => {
    const lab = path.join(dir, 'lab.yaml');
    writeFileSync(
      lab,
      'boards:\n  q1: { type: qemu-x86-64, power: { driver: qemu }, serial: { device: qemu } }\n',
    );
    let on = false;
    const b = await createLabBoard(loadLab(lab), 'q1', {
      os: loadOsProfile(),
      env: { ...process.env, HW_TEST_CACHE: dir },
      qemuFactory: (o) =>
        Promise.resolve({
          power: {
            name: `qemu:${o.name}`,
            on: () => ((on = true), Promise.resolve()),
            off: () => ((on = false), Promise.resolve()),
            cycle: () => Promise.resolve(),
            state: () => Promise.resolve(on ? 'on' : 'off'),
            close: () => Promise.resolve(),
          },
          console: {} as never,
          running: () => on,
          release: () => Promise.resolve(),
        }),
    });
    expect(b.storage).to.equal(path.join(dir, 'rig', 'q1', 'disk.img'));
    expect(b.mux).to.equal(undefined);
    await b.power.on();
    expect(on).to.equal(true);
    await b.release();
    expect(on).to.equal(false);
    expect(b.steps.map((s) => s.name)).to.deep.equal(['power on', 'power off']);
  });
});
