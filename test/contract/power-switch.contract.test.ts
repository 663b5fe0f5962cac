import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../rig/catalog/board.js';
import { loadOsProfile } from '../../rig/catalog/os-profile.js';
import { SimGpioChip } from '../../rig/sim/gpio-chip.js';
import { CommandPower } from '../../rig/power/command.js';
import { GpioRelay } from '../../rig/power/gpio-relay.js';
import type { PowerSwitch } from '../../rig/power/power-switch.js';
import { UhubctlPower } from '../../rig/power/uhubctl.js';
import { createPower } from '../../rig/lab/lab-board.js';
import { hardwareInstances } from './hardware.js';
import { pduSim, uhubctlSim } from '../../rig/sim/tool-sims.js';
import { UHUBCTL } from '../../rig/sim/tool-output.js';

interface Impl {
  name: string;
  pending?: string;
  timeout?: number;
  make(): Promise<{ power: PowerSwitch; cleanup?: () => Promise<void> }>;
}

const qemuArm = '/usr/lib/u-boot/qemu_arm/u-boot.bin';

const IMPLS: Impl[] = [
  {
    name: 'GPIO relay (simulated chip, active-low)',
    make: () =>
      Promise.resolve({
        power: new GpioRelay({ name: 'r', chip: new SimGpioChip(), line: 17, activeLow: true, offTimeMs: 1 }),
      }),
  },
  {
    name: 'uhubctl (simulated hub)',
    make: () =>
      Promise.resolve({
        power: new UhubctlPower({
          name: 'u',
          location: UHUBCTL.hub,
          port: 2,
          spawner: uhubctlSim(),
          offTimeMs: 1,
        }),
      }),
  },
  {
    name: 'command pair (simulated PDU)',
    make: () =>
      Promise.resolve({
        power: new CommandPower({
          name: 'c',
          on: ['pdu', 'on', '3'],
          off: ['pdu', 'off', '3'],
          state: ['pdu', 'state', '3'],
          spawner: pduSim(),
          offTimeMs: 1,
        }),
      }),
  },
  {
    // QEMU really runs: U-Boot from the Debian package, no disk image needed to power it.
    name: 'QEMU (qemu-armv7, U-Boot)',
    pending: existsSync(qemuArm) ? undefined : `no ${qemuArm} (apt-get install u-boot-qemu)`,
    timeout: 30_000,
    async make() {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-qpower-'));
      const disk = path.join(dir, 'sd.img');
      writeFileSync(disk, Buffer.alloc(1 << 20));
      const { createVirtualBoard } = await import('../../rig/board/virtual-board.js');
      const vb = createVirtualBoard({
        type: loadBoard('qemu-armv7'),
        os: loadOsProfile(),
        disk,
        name: 'contract-qemu',
      });
      return {
        power: vb.power,
        cleanup: async () => {
          await vb.release();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  ...hardwareInstances().map(({ inst, missing }) => ({
    name: `${inst.name} ${inst.power.driver} from ${path.basename(inst.file)}`,
    pending: missing,
    make: () => Promise.resolve({ power: createPower(inst.power, inst.name) }),
  })),
];

for (const impl of IMPLS) {
  describe(`contract: PowerSwitch: ${impl.name}${impl.pending ? ` (pending: ${impl.pending})` : ''}`, function () {
    this.timeout(impl.timeout ?? 10_000);
    let t: Awaited<ReturnType<Impl['make']>> | undefined;
    beforeEach(async function () {
      if (impl.pending) this.skip();
      t = await impl.make();
    });
    afterEach(async () => {
      await t?.power.close();
      await t?.cleanup?.();
      t = undefined;
    });

    it('on, then off, each read back; on twice is harmless', async () => {
      await t!.power.on();
      await t!.power.on();
      expect(await t!.power.state()).to.equal('on');
      await t!.power.off();
      expect(await t!.power.state()).to.equal('off');
    });

    it('cycle ends on, from on and from off', async () => {
      await t!.power.off();
      await t!.power.cycle();
      expect(await t!.power.state()).to.equal('on');
      await t!.power.cycle();
      expect(await t!.power.state()).to.equal('on');
      await t!.power.off();
    });

    it('an aborted signal stops a switch before it acts', async () => {
      await t!.power.off();
      const ctl = new AbortController();
      ctl.abort();
      const err = await t!.power.on(ctl.signal).catch((e: unknown) => e);
      expect(err).to.have.property('class', 'interrupted');
      expect(await t!.power.state()).to.equal('off');
    });
  });
}
