import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { BoardType } from '../catalog/board.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { LabInstance } from '../catalog/lab.js';
import type { Console } from '../console/console.js';
import { InputError } from '../errors.js';
import { SimGpioChip } from '../gpio/sim-chip.js';
import { logger } from '../log.js';
import { GpioRelay } from '../power/gpio-relay.js';
import type { PowerSwitch } from '../power/power-switch.js';
import type { GpioMux } from '../sdmux/gpio-mux.js';
import { createVirtualMux, type VirtualMuxCard } from '../sdmux/virtual-mux.js';
import type { Spawner } from '../util/spawn.js';

const log = logger('rig:virtual');

/** The QEMU side of a virtual rig: what `createVirtualBoard` (rig/board/virtual-board.ts) returns. */
export interface QemuBoardParts {
  power: PowerSwitch;
  console: Console;
  /** True while the QEMU process runs. */
  running(): boolean;
  release(): Promise<void>;
}

export type QemuBoardFactory = (opts: {
  type: BoardType;
  os: OsProfile;
  name: string;
  disk: string;
  netArgs?: string[];
  wrapper?: string[];
  spawner?: Spawner;
  /** A flasher board's card: in the board at this power on (read at each start). */
  cardPresent?: () => boolean;
}) => Promise<QemuBoardParts>;

/** The default factory: the QEMU board of rig/board/virtual-board.ts, loaded on demand. */
export const qemuBoardFactory: QemuBoardFactory = async (opts) => {
  const { createVirtualBoard } = await import('../board/virtual-board.js');
  const vb = createVirtualBoard(opts);
  return {
    power: vb.power,
    console: vb.console,
    running: () => vb.qemu.running,
    release: () => vb.release(),
  };
};

export interface VirtualRig {
  chip: SimGpioChip;
  relay: GpioRelay;
  mux: GpioMux;
  card: VirtualMuxCard;
  qemu: QemuBoardParts;
  /** The disk image: the board's "SD card". */
  image: string;
  /** Where the card appears on the host side while the mux is on the host: what the flasher writes. */
  hostLink: string;
  /** Everything: relay and mux off, lines released, the host link gone, QEMU stopped. Idempotent. */
  release(): Promise<void>;
  /** Only the simulated hardware behind the drivers (when the drivers were released already). */
  releaseHardware(): Promise<void>;
}

export interface VirtualRigOptions {
  instance: LabInstance;
  type: BoardType;
  os: OsProfile;
  /** Folder for the disk image and the host link, e.g. ~/.cache/hw-test/rig/<instance>. */
  dir: string;
  netArgs?: string[];
  wrapper?: string[];
  spawner?: Spawner;
  qemuFactory?: QemuBoardFactory;
  /** What powers the board off before the mux moves (default: the relay); the lab board records it. */
  beforeSwitch?: (signal?: AbortSignal) => Promise<void>;
}

/**
 * A simulated GPIO chip and a virtual SD mux wired to a QEMU board: the relay line's level powers
 * QEMU on and off (the relay "contacts"), and the mux select line hands the disk image to the host
 * (a link appears, the flasher writes it) or to the board. The relay and mux drivers are the same
 * as on a real rig, so their polarity and sequencing run here end to end.
 */
export async function createVirtualRig(opts: VirtualRigOptions): Promise<VirtualRig> {
  const { instance, type } = opts;
  if (instance.power.driver !== 'sim-gpio-relay' || instance.mux?.driver !== 'virtual-mux') {
    throw new InputError(
      `${instance.file}: boards.${instance.name}: a virtual rig needs power sim-gpio-relay and mux virtual-mux`,
      {
        file: instance.file,
      },
    );
  }
  if (!type.qemu) {
    throw new InputError(
      `${instance.file}: boards.${instance.name}.type ${type.name} is not a QEMU board; the virtual rig drives QEMU`,
      {
        file: instance.file,
        field: `boards.${instance.name}.type`,
      },
    );
  }
  const p = instance.power;
  const m = instance.mux;
  const chip = new SimGpioChip(p.chip ?? 'sim-gpiochip0');
  if (m.chip && m.chip !== chip.name) {
    throw new InputError(
      `${instance.file}: boards.${instance.name}: the relay and the mux must be on the same simulated chip`,
      {
        file: instance.file,
        field: `boards.${instance.name}.mux.chip`,
      },
    );
  }
  const image = path.resolve(m.image ?? path.join(opts.dir, 'disk.img'));
  const hostLink = path.join(opts.dir, 'sd');
  await fsp.mkdir(opts.dir, { recursive: true });
  // A stale link from a crashed run would look like a card on the host side.
  await fsp.rm(hostLink, { force: true });

  // A flasher board boots with or without its card (internal storage): QEMU asks the mux at start.
  const flasher = type.boot.medium === 'flasher';
  const holder: { card?: VirtualMuxCard } = {};
  const qemu = await (opts.qemuFactory ?? qemuBoardFactory)({
    type,
    os: opts.os,
    name: instance.name,
    disk: image,
    netArgs: opts.netArgs,
    wrapper: opts.wrapper,
    spawner: opts.spawner,
    cardPresent: flasher ? () => holder.card!.onBoardSide() : undefined,
  });
  const relay = new GpioRelay({
    name: instance.name,
    chip,
    line: p.line,
    activeLow: p.activeLow,
    offTimeMs: p.offTimeMs,
    settleMs: p.settleMs,
  });
  const { mux, card } = createVirtualMux({
    name: instance.name,
    chip,
    select: { line: m.select, hostLevel: m.hostLevel },
    image,
    hostLink,
    deviceTimeoutMs: m.timeoutMs,
    boardRunning: () => qemu.running(),
    // Flat out like a real mux: the board goes off before the card moves.
    beforeSwitch: (signal) => (opts.beforeSwitch ? opts.beforeSwitch(signal) : relay.off(signal)),
  });
  holder.card = card;
  // The relay's contacts: its line level is the board's supply.
  const disposeRelay = chip.onChange(p.line, async (level) => {
    if (level === relay.levelFor('on')) {
      if (!flasher) await card.imageForBoard();
      log('%s: relay closed, QEMU on', instance.name);
      await qemu.power.on();
    } else {
      log('%s: relay open, QEMU off', instance.name);
      await qemu.power.off();
    }
  });
  let released = false;
  const releaseHardware = async () => {
    if (released) return;
    released = true;
    disposeRelay();
    await card.dispose();
    await qemu.release();
  };
  return {
    chip,
    relay,
    mux,
    card,
    qemu,
    image,
    hostLink,
    releaseHardware,
    async release() {
      if (released) return;
      await relay.off().catch((err: unknown) => log('relay off: %s', String(err)));
      await mux.off().catch((err: unknown) => log('mux off: %s', String(err)));
      await relay.close();
      await mux.close();
      await releaseHardware();
    },
  };
}
