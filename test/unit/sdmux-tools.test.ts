import { expect } from 'chai';
import { UsbSdMux } from '../../rig/sdmux/usbsdmux.js';
import { SdWire } from '../../rig/sdmux/sdwire.js';
import { FakeSpawner } from '../../rig/sim/spawner.js';
import { FakeWaitEnv } from '../../rig/sim/wait-env.js';
import { findOnPath } from '../../rig/lab/doctor-checks.js';
import { SDMUX_CTRL, USBSDMUX } from '../../rig/sim/tool-output.js';

const DEV = '/dev/disk/by-id/usb-LinuxAut_sdmux_HS-SD_MMC_000000000123-0:0';

describe('sdmux: LXA USB-SD-Mux through usbsdmux (replayed output)', () => {
  it('powers the board off first, switches, and waits for the block device to appear and go', async () => {
    const env = new FakeWaitEnv();
    const order: string[] = [];
    const sp = new FakeSpawner({
      replay: [
        { match: 'usbsdmux /dev/sg2 host', effect: () => (order.push('host'), env.present.add(DEV)) },
        { match: 'usbsdmux /dev/sg2 dut', effect: () => (order.push('dut'), env.present.delete(DEV)) },
        { match: 'usbsdmux /dev/sg2 get', stdout: USBSDMUX.getDut },
      ],
    });
    const mux = new UsbSdMux({
      name: 'odroid-xu4-1',
      sg: '/dev/sg2',
      hostDevice: DEV,
      spawner: sp,
      waitEnv: env,
      beforeSwitch: () => (order.push('power off'), Promise.resolve()),
    });
    await mux.toHost();
    await mux.toBoard();
    expect(order).to.deep.equal(['power off', 'host', 'power off', 'dut']);
    expect(await mux.state()).to.equal('board');
  });

  it('a mux that never shows its block device fails naming the mux and the device', async () => {
    const env = new FakeWaitEnv();
    const sp = new FakeSpawner({ replay: [{ match: 'usbsdmux /dev/sg2 host' }] });
    const mux = new UsbSdMux({
      name: 'odroid-xu4-1',
      sg: '/dev/sg2',
      hostDevice: DEV,
      spawner: sp,
      waitEnv: env,
    });
    const err = await mux.toHost().catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      `mux usbsdmux /dev/sg2: block device ${DEV} did not appear within 10 s`,
    );
    expect(err).to.have.property('class', 'infra');
    expect(env.t).to.be.at.least(10_000);
  });

  it('a device that appears late is waited for', async () => {
    const env = new FakeWaitEnv();
    env.onPoll = (t) => t >= 1500 && env.present.add(DEV);
    const sp = new FakeSpawner({ replay: [{ match: 'usbsdmux /dev/sg2 host' }] });
    await new UsbSdMux({ name: 'x', sg: '/dev/sg2', hostDevice: DEV, spawner: sp, waitEnv: env }).toHost();
    expect(env.t).to.be.within(1500, 2000);
  });

  it("a path that is no mux, and no permission, fail with usbsdmux's own words", async () => {
    const sp = new FakeSpawner({
      replay: [
        { match: 'usbsdmux /dev/sg9 host', stderr: USBSDMUX.notAMux, code: 1 },
        { match: 'usbsdmux /dev/sg2 get', stderr: USBSDMUX.permission, code: 1 },
      ],
    });
    const bad = new UsbSdMux({
      name: 'x',
      sg: '/dev/sg9',
      hostDevice: DEV,
      spawner: sp,
      waitEnv: new FakeWaitEnv(),
    });
    expect(((await bad.toHost().catch((e: Error) => e)) as Error).message).to.equal(
      'mux usbsdmux /dev/sg9 (x): host failed: Could not determine type of USB-SD-Mux. Does /sys/class/scsi_generic/sg9/device/model exist? Does /dev/sg9 really point to a USB-SD-Mux?',
    );
    const denied = new UsbSdMux({ name: 'x', sg: '/dev/sg2', hostDevice: DEV, spawner: sp });
    expect(((await denied.state().catch((e: Error) => e)) as Error).message).to.match(
      /get failed: \[Errno 13\] Permission denied: '\/dev\/sg2'$/,
    );
  });

  it('reads host, dut and off back', async () => {
    for (const [out, state] of [
      [USBSDMUX.getHost, 'host'],
      [USBSDMUX.getDut, 'board'],
      [USBSDMUX.getOff, 'off'],
    ] as const) {
      const sp = new FakeSpawner({ replay: [{ match: 'usbsdmux /dev/sg2 get', stdout: out }] });
      expect(
        await new UsbSdMux({ name: 'x', sg: '/dev/sg2', hostDevice: DEV, spawner: sp }).state(),
      ).to.equal(state);
    }
  });
});

describe('sdmux: the real usbsdmux tool, with no mux attached', () => {
  before(async function () {
    if (!(await findOnPath('usbsdmux'))) this.skip();
  });

  it('a missing /dev/sg and a path that is no SCSI device fail with its words', async () => {
    const missing = await new UsbSdMux({ name: 'x', sg: '/dev/sg9', hostDevice: DEV })
      .state()
      .catch((e: Error) => e);
    expect((missing as Error).message).to.equal(
      `mux usbsdmux /dev/sg9 (x): get failed: ${USBSDMUX.missingSg.trim()}`,
    );
    const notScsi = await new UsbSdMux({ name: 'x', sg: '/dev/null', hostDevice: DEV })
      .toHost()
      .catch((e: Error) => e);
    expect((notScsi as Error).message).to.equal(
      "mux usbsdmux /dev/null (x): host failed: [Errno 25] Inappropriate ioctl for device Does '/dev/null' really point to an USB-SD-Mux?",
    );
  });
});

describe('sdmux: SDWire through sd-mux-ctrl (replayed output)', () => {
  const SD = '/dev/disk/by-id/usb-Generic_Ultra_HS-SD_MMC_000000264001-0:0';

  it("--ts shows the card on the host, --dut takes it away, --status reads TS/DUT (and a fork's Host)", async () => {
    const env = new FakeWaitEnv();
    const sp = new FakeSpawner({
      replay: [
        { match: 'sd-mux-ctrl --device-serial sd-wire_11 --ts', effect: () => env.present.add(SD) },
        { match: 'sd-mux-ctrl --device-serial sd-wire_11 --dut', effect: () => env.present.delete(SD) },
        { match: 'sd-mux-ctrl --device-serial sd-wire_11 --status', stdout: SDMUX_CTRL.statusTs, times: 1 },
        { match: 'sd-mux-ctrl --device-serial sd-wire_11 --status', stdout: SDMUX_CTRL.statusDut, times: 1 },
        {
          match: 'sd-mux-ctrl --device-serial sd-wire_11 --status',
          stdout: SDMUX_CTRL.statusHostFork,
          times: 1,
        },
      ],
    });
    const mux = new SdWire({
      name: 'rpi3-1',
      serial: 'sd-wire_11',
      hostDevice: SD,
      spawner: sp,
      waitEnv: env,
    });
    await mux.toHost();
    await mux.off();
    expect(sp.calls.slice(0, 2)).to.deep.equal([
      'sd-mux-ctrl --device-serial sd-wire_11 --ts',
      'sd-mux-ctrl --device-serial sd-wire_11 --dut',
    ]);
    expect([await mux.state(), await mux.state(), await mux.state()]).to.deep.equal([
      'host',
      'board',
      'host',
    ]);
  });

  it("an unknown serial fails with the tool's last stderr line", async () => {
    const sp = new FakeSpawner({ replay: [{ match: /sd-mux-ctrl/, stderr: SDMUX_CTRL.notFound, code: 1 }] });
    const err = await new SdWire({ name: 'rpi3-1', serial: 'sd-wire_99', hostDevice: SD, spawner: sp })
      .toHost()
      .catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      'mux SDWire sd-wire_99 (rpi3-1): --ts failed: Unable to open ftdi device: -3 (device not found)',
    );
  });

  it('a card that never leaves the host after --dut fails naming the device', async () => {
    const env = new FakeWaitEnv();
    env.present.add(SD);
    const sp = new FakeSpawner({ replay: [{ match: /--dut/ }] });
    const err = await new SdWire({
      name: 'r',
      serial: 's',
      hostDevice: SD,
      spawner: sp,
      waitEnv: env,
      deviceTimeoutMs: 3000,
    })
      .toBoard()
      .catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      `mux sd-mux-ctrl s: block device ${SD} did not disappear within 3 s`,
    );
  });
});
