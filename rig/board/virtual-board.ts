import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import type { BoardType } from '../catalog/board.js';
import { failurePatterns } from '../catalog/board.js';
import type { OsProfile } from '../catalog/os-profile.js';
import { SerialConsole } from '../console/serial.js';
import { InputError } from '../errors.js';
import { QemuPower } from '../power/qemu-power.js';
import { QemuMachine, type QemuOptions } from '../qemu/qemu.js';
import { VirtualCardSlot } from '../sim/card-slot.js';
import type { Spawner } from '../util/spawn.js';
import type { BoardInstance } from './board.js';

export interface VirtualBoardOptions {
  type: BoardType;
  os: OsProfile;
  /** The board's SD card: a raw disk image file. */
  disk: string;
  netArgs?: string[];
  wrapper?: string[];
  spawner?: Spawner;
  /** Instance name (default: the type's name). */
  name?: string;
  /**
   * A flasher board's card slot, when a virtual rig's mux holds the card; without it the board
   * gets a card slot of its own (its `mux`).
   */
  cardPresent?: () => boolean;
  /** Further QEMU overrides (firmware, cpu, memory, extra arguments). */
  qemu?: Pick<QemuOptions, 'firmware' | 'cpu' | 'smp' | 'memoryMb' | 'extraArgs'>;
}

export interface VirtualBoard extends BoardInstance {
  readonly power: QemuPower;
  readonly console: SerialConsole;
  readonly qemu: QemuMachine;
  /** A flasher board's internal storage (the second disk), kept across runs like a real board's. */
  readonly internalDisk?: string;
}

/** The internal disk exists, at least `mb` MiB (sparse; what a previous run left on it stays). */
function ensureInternalDisk(file: string, mb: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, 'a');
  try {
    if (fstatSync(fd).size < mb << 20) ftruncateSync(fd, mb << 20);
  } finally {
    closeSync(fd);
  }
}

/**
 * A QEMU board: the QEMU power switch and a serial console on its pty, resolved at each power-on.
 * The console is one object across power cycles, so the log is continuous.
 */
export function createVirtualBoard(opts: VirtualBoardOptions): VirtualBoard {
  const { type } = opts;
  if (!type.qemu) {
    throw new InputError(`${type.file}: board ${type.name} is not a virtual board (no qemu: block)`, {
      file: type.file,
      field: 'qemu',
    });
  }
  const name = opts.name ?? type.name;
  // A flasher board: the card comes and goes through a slot, the internal disk stays.
  let slot: VirtualCardSlot | undefined;
  let internalDisk: string | undefined;
  if (type.boot.medium === 'flasher') {
    internalDisk = path.join(path.dirname(opts.disk), 'internal.img');
    ensureInternalDisk(internalDisk, type.qemu.internalDiskMb ?? 512);
    if (!opts.cardPresent) slot = new VirtualCardSlot(`${name} card slot`, opts.disk, () => qemu.running);
  }
  const qemu: QemuMachine = new QemuMachine({
    ...opts.qemu,
    type,
    name,
    disk: opts.disk,
    internalDisk,
    cardPresent: opts.cardPresent ?? (slot ? () => slot.cardIn : undefined),
    netArgs: opts.netArgs,
    wrapper: opts.wrapper,
    spawner: opts.spawner,
  });
  const console = new SerialConsole({
    name: `${name} console`,
    path: () => qemu.ptyPath,
    baudRate: type.serial.baud,
    failurePatterns: failurePatterns(type),
    // A QEMU that died does not come back by itself.
    reopenTimeoutMs: 2000,
    // A pty has no USB latency timer: QEMU writes each byte as the guest's UART sends it, so a
    // prompt followed by 30 ms of silence is complete (each login step waited 100 ms otherwise).
    quietMs: 30,
  });
  const power = new QemuPower(qemu, {
    attach: (signal) => console.open(signal),
    detach: () => console.close(),
  });
  let released = false;
  return {
    name,
    type,
    os: opts.os,
    power,
    console,
    qemu,
    mux: slot,
    internalDisk,
    storage: opts.disk,
    async release() {
      if (released) return;
      released = true;
      await power.off();
      await slot?.off();
      await power.close();
      await console.close();
    },
  };
}
