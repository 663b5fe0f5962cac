import type { BoardType } from '../catalog/board.js';
import { failurePatterns } from '../catalog/board.js';
import type { OsProfile } from '../catalog/os-profile.js';
import { SerialConsole } from '../console/serial.js';
import { InputError } from '../errors.js';
import { QemuPower } from '../power/qemu-power.js';
import { QemuMachine, type QemuOptions } from '../qemu/qemu.js';
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
  /** Further QEMU overrides (firmware, cpu, memory, extra arguments). */
  qemu?: Pick<QemuOptions, 'firmware' | 'cpu' | 'smp' | 'memoryMb' | 'extraArgs'>;
}

export interface VirtualBoard extends BoardInstance {
  readonly power: QemuPower;
  readonly console: SerialConsole;
  readonly qemu: QemuMachine;
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
  const qemu = new QemuMachine({
    ...opts.qemu,
    type,
    name,
    disk: opts.disk,
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
    storage: opts.disk,
    async release() {
      if (released) return;
      released = true;
      await power.off();
      await power.close();
      await console.close();
    },
  };
}
