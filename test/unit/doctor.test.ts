import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PowerState } from '../../rig/power/power-switch.js';
import type { Console } from '../../rig/console/console.js';
import { VIRTUAL_LAB } from '../../rig/catalog/lab.js';
import { command, runDoctor } from '../../rig/cli/doctor.js';
import { openSerialOnce } from '../../rig/lab/doctor-checks.js';
import { spawn } from 'node:child_process';
import { pduSim, usbsdmuxSim } from '../../rig/sim/tool-sims.js';
import { FakeSpawner } from '../../rig/sim/spawner.js';
import { FakeWaitEnv } from '../../rig/sim/wait-env.js';
import type { CliIo } from '../../rig/cli/io.js';
import type { QemuBoardFactory } from '../../rig/sim/virtual-rig.js';

/** A QEMU stand-in: the doctor never powers the board on, so no QEMU is needed to check the wiring. */
const fakeQemu: QemuBoardFactory = () => {
  let state: PowerState = 'off';
  return Promise.resolve({
    power: {
      name: 'fake-qemu',
      on: () => ((state = 'on'), Promise.resolve()),
      off: () => ((state = 'off'), Promise.resolve()),
      cycle: () => Promise.resolve(),
      state: () => Promise.resolve(state),
      close: () => Promise.resolve(),
    },
    console: {} as Console,
    running: () => state === 'on',
    release: () => Promise.resolve(),
  });
};

describe('hw-test doctor', () => {
  let dir: string;
  const env = () => ({ ...process.env, HW_TEST_CACHE: dir });
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-doctor-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('passes on the virtual rig: one ok line per check', async () => {
    const lines: string[] = [];
    const results = await runDoctor({
      board: 'qemu-x86-64',
      labFile: VIRTUAL_LAB,
      env: env(),
      qemuFactory: fakeQemu,
      out: (l) => lines.push(l),
    });
    expect(results.map((r) => `${r.status} ${r.kind}`)).to.deep.equal([
      'ok tool',
      'ok serial',
      'ok gpio',
      'ok gpio',
      'ok power',
      'ok mux',
    ]);
    expect(lines[0]).to.equal(`doctor qemu-x86-64-rig (qemu-x86-64) from ${VIRTUAL_LAB}`);
    expect(lines).to.include('ok   power sim-gpio-relay qemu-x86-64-rig answers (switched off, reads off)');
    expect(lines.find((l) => l.startsWith('ok   mux'))).to.match(/appeared on the host side and went away$/);
  });

  it('fails with a clear line when the serial path is wrong, and exits 3', async () => {
    const lab = path.join(dir, 'lab.yaml');
    writeFileSync(
      lab,
      readFileSync(path.join(path.dirname(VIRTUAL_LAB), 'example-odroid-rpi.yaml'), 'utf8').replace(
        /usb-FTDI_FT232R_USB_UART_A10K5VXY-if00-port0/,
        'usb-FTDI_WRONG-if00-port0',
      ),
    );
    const lines: string[] = [];
    const results = await runDoctor({
      board: 'odroid-xu4-1',
      labFile: lab,
      env: env(),
      out: (l) => lines.push(l),
    });
    expect(lines).to.include(
      'FAIL serial /dev/serial/by-id/usb-FTDI_WRONG-if00-port0: no such device (ENOENT); check the USB cable and the by-id name (ls /dev/serial/by-id)',
    );
    expect(results.filter((r) => r.status === 'FAIL').map((r) => r.kind)).to.include.members([
      'serial',
      'mux',
    ]);
    const out: string[] = [];
    const io: CliIo = {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
      interactive: false,
      env: env(),
      signal: new AbortController().signal,
    };
    expect(await command.main(['--board', 'odroid-xu4-1', '--lab', lab], io)).to.equal(3);
    expect(out.at(-1)).to.match(/^\d+ check\(s\) failed$/);
  });

  it('a board the lab file does not wire is bad input (exit 2 through the CLI) naming the file and the docs', async () => {
    const io: CliIo = {
      out: () => {},
      err: () => {},
      interactive: false,
      env: {},
      signal: new AbortController().signal,
    };
    const err = await command
      .main(['--board', 'odroid-xu4', '--lab', VIRTUAL_LAB], io)
      .catch((e: unknown) => e);
    expect(err).to.have.property('class', 'input');
    expect((err as Error).message).to.match(
      /virtual\.yaml: no board "odroid-xu4" is wired on this host .*see docs\/wiring\.md$/,
    );
    const noLab = await command.main(['--board', 'odroid-xu4'], io).catch((e: unknown) => e);
    expect((noLab as Error).message).to.match(/no lab file: pass --lab FILE or set HW_TEST_LAB/);
  });

  it('a mux whose block device never appears gives one FAIL line naming the mux and the device', async () => {
    const lab = path.join(dir, 'lab.yaml');
    const dev = '/dev/disk/by-id/usb-LinuxAut_sdmux_HS-SD_MMC_000000000123-0:0';
    writeFileSync(
      lab,
      `boards:
  xu4:
    type: odroid-xu4
    power: { driver: command, on: [pdu, on, '3'], off: [pdu, off, '3'], state: [pdu, state, '3'] }
    mux: { driver: usbsdmux, sg: /dev/sg2, device: ${dev}, timeoutMs: 300 }
    serial: { device: /dev/null }
`,
    );
    const mux = usbsdmuxSim(new FakeWaitEnv(), '/dev/sg2', dev, { deviceNeverAppears: true });
    const pdu = pduSim();
    const spawner = new FakeSpawner({
      tool: (cmd, args) => {
        return (cmd === 'usbsdmux' ? mux : pdu).handler(cmd, args);
      },
    });
    const lines: string[] = [];
    await runDoctor({ board: 'xu4', labFile: lab, env: env(), spawner, out: (l) => lines.push(l) });
    expect(lines).to.include(`FAIL mux usbsdmux /dev/sg2: block device ${dev} did not appear within 0.3 s`);
    expect(lines).to.include('ok   power command xu4 answers (off)');
  });

  it('the serial check really opens a tty (a pty pair) and fails on a file that is no tty', async function () {
    const py = spawn('python3', [
      '-c',
      'import pty,os,time; m,s=pty.openpty(); print(os.ttyname(s), flush=True); time.sleep(20)',
    ]);
    try {
      const tty = await new Promise<string>((resolve, reject) => {
        py.stdout.once('data', (b: Buffer) => resolve(b.toString().trim()));
        py.once('error', reject);
      }).catch(() => undefined);
      if (!tty) this.skip();
      await openSerialOnce(tty, 115200);
      const notTty = path.join(dir, 'not-a-tty');
      writeFileSync(notTty, '');
      const err = await openSerialOnce(notTty, 115200).catch((e: Error) => e);
      expect((err as Error).message).to.match(/^exists but does not open: /);
    } finally {
      py.kill('SIGKILL');
    }
  });

  it('a board held by a run is not touched: one FAIL lock line naming the holder', async () => {
    const { lockBoard } = await import('../../rig/runner/lock.js');
    const e = { ...env(), HW_TEST_LOCK_DIR: path.join(dir, 'locks') };
    const held = await lockBoard('qemu-x86-64-rig', { timeoutMs: 0, env: e });
    try {
      const lines: string[] = [];
      const results = await runDoctor({
        board: 'qemu-x86-64',
        labFile: VIRTUAL_LAB,
        env: e,
        qemuFactory: fakeQemu,
        out: (l) => lines.push(l),
      });
      expect(results.map((r) => r.kind)).to.deep.equal(['lock']);
      expect(lines[1]).to.match(new RegExp(`^FAIL lock qemu-x86-64-rig: .*pid ${process.pid}`));
    } finally {
      await held.release();
    }
  });
});
