import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SimGpioChip } from '../../rig/sim/gpio-chip.js';
import { GpioMux } from '../../rig/sdmux/gpio-mux.js';
import type { SdMux } from '../../rig/sdmux/sd-mux.js';
import { SdWire } from '../../rig/sdmux/sdwire.js';
import { UsbSdMux } from '../../rig/sdmux/usbsdmux.js';
import { createVirtualMux } from '../../rig/sim/virtual-mux.js';
import { createMux } from '../../rig/lab/lab-board.js';
import { FakeWaitEnv } from '../../rig/sim/wait-env.js';
import { hardwareInstances } from './hardware.js';
import { sdwireSim, usbsdmuxSim } from '../../rig/sim/tool-sims.js';

interface Made {
  mux: SdMux;
  /** Whether the host device exists right now. */
  present(): boolean;
  /** Muxes without an "off" position (SDWire) leave the card on the board side. */
  offState: 'off' | 'board';
  cleanup?: () => Promise<void>;
}

interface Impl {
  name: string;
  pending?: string;
  make(opts: { neverAppears?: boolean }): Made;
}

const DEV = '/dev/disk/by-id/usb-LinuxAut_sdmux_HS-SD_MMC_000000000123-0:0';

const IMPLS: Impl[] = [
  {
    name: 'usbsdmux (simulated tool and device)',
    make: ({ neverAppears }) => {
      const env = new FakeWaitEnv();
      const mux = new UsbSdMux({
        name: 'u',
        sg: '/dev/sg2',
        hostDevice: DEV,
        spawner: usbsdmuxSim(env, '/dev/sg2', DEV, { deviceNeverAppears: neverAppears }),
        waitEnv: env,
      });
      return { mux, present: () => env.present.has(DEV), offState: 'off' };
    },
  },
  {
    name: 'SDWire (simulated sd-mux-ctrl and device)',
    make: ({ neverAppears }) => {
      const env = new FakeWaitEnv();
      const sp = sdwireSim(env, 'sd-wire_11', neverAppears ? '/dev/elsewhere' : DEV);
      const mux = new SdWire({ name: 's', serial: 'sd-wire_11', hostDevice: DEV, spawner: sp, waitEnv: env });
      return { mux, present: () => env.present.has(DEV), offState: 'board' };
    },
  },
  {
    name: 'GPIO mux with card power (simulated chip)',
    make: ({ neverAppears }) => {
      const env = new FakeWaitEnv();
      const chip = new SimGpioChip();
      const card = () => {
        if (!neverAppears && chip.level(5) === 1 && chip.level(6) === 1) env.present.add(DEV);
        else env.present.delete(DEV);
      };
      chip.onChange(5, card);
      chip.onChange(6, card);
      const mux = new GpioMux({
        name: 'g',
        chip,
        select: { line: 5 },
        power: { line: 6 },
        powerOffMs: 1,
        hostDevice: DEV,
        waitEnv: env,
      });
      return { mux, present: () => env.present.has(DEV), offState: 'off' };
    },
  },
  {
    name: 'virtual mux (real files)',
    make: ({ neverAppears }) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-vmux-'));
      const hostLink = path.join(dir, 'sd');
      const chip = new SimGpioChip();
      const { mux, card } = createVirtualMux({
        name: 'v',
        chip,
        select: { line: 22 },
        image: path.join(dir, 'disk.img'),
        hostLink,
        deviceTimeoutMs: 300,
      });
      // A card reader that never enumerates: the select line moves, nothing appears.
      if (neverAppears) void card.dispose();
      return {
        mux,
        present: () => existsSync(hostLink),
        offState: 'off',
        cleanup: async () => {
          await card.dispose();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  ...hardwareInstances()
    .filter(({ inst }) => inst.mux)
    .map(({ inst, missing }) => ({
      name: `${inst.name} ${inst.mux!.driver} from ${path.basename(inst.file)}`,
      pending: missing,
      make: (): Made => {
        const mux = createMux(inst.mux!, { name: inst.name });
        return {
          mux,
          present: () => existsSync(mux.hostDevice),
          offState: inst.mux!.driver === 'sdwire' ? 'board' : 'off',
        };
      },
    })),
];

for (const impl of IMPLS) {
  describe(`contract: SdMux: ${impl.name}${impl.pending ? ` (pending: ${impl.pending})` : ''}`, function () {
    this.timeout(30_000);
    let t: Made | undefined;
    beforeEach(function () {
      if (impl.pending) this.skip();
    });
    afterEach(async () => {
      await t?.mux.close();
      await t?.cleanup?.();
      t = undefined;
    });

    it('toHost resolves once the host device exists; toBoard and off once it is gone', async () => {
      t = impl.make({});
      await t.mux.toHost();
      expect(t.present()).to.equal(true);
      expect(await t.mux.state()).to.equal('host');
      await t.mux.toBoard();
      expect(t.present()).to.equal(false);
      expect(await t.mux.state()).to.equal('board');
      await t.mux.toHost();
      await t.mux.off();
      expect(t.present()).to.equal(false);
      expect(await t.mux.state()).to.equal(t.offState);
    });

    it('a device that never appears fails as infra naming the mux and the device', async function () {
      if (impl.name.includes('.yaml')) this.skip();
      t = impl.make({ neverAppears: true });
      const err = await t.mux.toHost().catch((e: unknown) => e);
      expect(err).to.have.property('class', 'infra');
      expect((err as Error).message).to.contain(t.mux.hostDevice);
      expect((err as Error).message).to.match(/did not appear within/);
    });
  });
}
