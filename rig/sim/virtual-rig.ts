import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { BoardType } from '../catalog/board.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { LabInstance } from '../catalog/lab.js';
import type { Console } from '../console/console.js';
import { InputError } from '../errors.js';
import { SIM_CHIP, SimGpioChip } from './gpio-chip.js';
import type { SimRelaySpec } from './sim-relay.js';
import type { VirtualMuxSpec } from './virtual-mux.js';
import { logger } from '../log.js';
import { GpioRelay } from '../power/gpio-relay.js';
import type { PowerSwitch } from '../power/power-switch.js';
import type { GpioMux } from '../sdmux/gpio-mux.js';
import { createVirtualMux, type VirtualMuxCard } from './virtual-mux.js';
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
  const { p, m } = virtualWiring(instance, type);
  const chip = new SimGpioChip(p.chip ?? SIM_CHIP);
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
  const disposeRelay = wireContacts({ chip, line: p.line, relay, card, qemu, flasher, name: instance.name });
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

/** The relay and mux of a virtual rig, from its lab entry (the schema said the rest). */
function virtualWiring(instance: LabInstance, type: BoardType): { p: SimRelaySpec; m: VirtualMuxSpec } {
  const where = `${instance.file}: boards.${instance.name}`;
  const p = instance.power;
  const m = instance.mux;
  if (p.driver !== 'sim-gpio-relay' || m?.driver !== 'virtual-mux')
    throw new InputError(`${where}: a virtual rig needs power sim-gpio-relay and mux virtual-mux`, {
      file: instance.file,
    });
  if (!type.qemu)
    throw new InputError(`${where}.type ${type.name} is not a QEMU board; the virtual rig drives QEMU`, {
      file: instance.file,
      field: `boards.${instance.name}.type`,
    });
  if (m.chip && m.chip !== (p.chip ?? SIM_CHIP))
    throw new InputError(`${where}: the relay and the mux must be on the same simulated chip`, {
      file: instance.file,
      field: `boards.${instance.name}.mux.chip`,
    });
  return { p, m };
}

/** The relay's contacts: its line level is the board's supply. Returns the unhook. */
function wireContacts(w: {
  chip: SimGpioChip;
  line: number;
  relay: GpioRelay;
  card: VirtualMuxCard;
  qemu: QemuBoardParts;
  flasher: boolean;
  name: string;
}): () => void {
  return w.chip.onChange(w.line, async (level) => {
    if (level === w.relay.levelFor('on')) {
      if (!w.flasher) await w.card.imageForBoard();
      log('%s: relay closed, QEMU on', w.name);
      await w.qemu.power.on();
    } else {
      log('%s: relay open, QEMU off', w.name);
      await w.qemu.power.off();
    }
  });
}
