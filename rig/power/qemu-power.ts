import { logger } from '../log.js';
import { throwIfAborted } from '../util/abort.js';
import type { QemuMachine, QemuStatus } from '../qemu/qemu.js';
import type { PowerState, PowerSwitch } from './power-switch.js';
import { KEY, type WiringProblem, type WiringView } from '../catalog/drivers.js';
import type { PowerDriver } from './driver.js';

const log = logger('power:qemu');

export interface QemuPowerOptions {
  /**
   * Called with the new process paused, before it runs: attach the console here, so no byte of
   * the bootloader is lost (QEMU drops pty output that no reader takes).
   */
  attach?: (signal?: AbortSignal) => Promise<void>;
  /** Called before the power is cut: detach the console, so its loss is not taken for a fault. */
  detach?: () => Promise<void>;
  /** How long QEMU gets to start and answer on QMP (default 15 s). */
  startTimeoutMs?: number;
}

/**
 * A virtual board's power: on is a process start (paused, console attached, then `cont`), off a
 * SIGKILL (a hard power cut, no graceful shutdown), reset QMP `system_reset`, and pause/resume
 * (QMP stop/cont) simulate a hung board.
 */
export class QemuPower implements PowerSwitch {
  readonly name: string;

  constructor(
    readonly machine: QemuMachine,
    private readonly opts: QemuPowerOptions = {},
  ) {
    this.name = `qemu:${machine.name}`;
  }

  async on(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.machine.running) return;
    await this.machine.start({ timeoutMs: this.opts.startTimeoutMs, signal });
    try {
      await this.opts.attach?.(signal);
      await this.machine.cont();
    } catch (err) {
      await this.off();
      throw err;
    }
    log('%s: on (pid %d)', this.name, this.machine.pid);
  }

  async off(): Promise<void> {
    await this.opts.detach?.();
    const wasOn = this.machine.running;
    // Also after QEMU died by itself: its QMP folder goes.
    await this.machine.kill();
    if (wasOn) log('%s: off', this.name);
  }

  async cycle(signal?: AbortSignal): Promise<void> {
    await this.off();
    await this.on(signal);
  }

  state(): Promise<PowerState> {
    return Promise.resolve(this.machine.running ? 'on' : 'off');
  }

  /** The reset button: the machine reboots at once, the process (and its pty) stays. */
  async reset(): Promise<void> {
    await this.machine.reset();
  }

  /** Freezes the CPU: the board looks hung (no console output, no network answers). */
  async pause(): Promise<void> {
    await this.machine.pause();
  }

  async resume(): Promise<void> {
    await this.machine.cont();
  }

  status(): Promise<QemuStatus> {
    return this.machine.status();
  }

  /** Releases the process: a clean QMP quit (SIGTERM, then SIGKILL if it lingers). */
  async close(): Promise<void> {
    await this.opts.detach?.();
    await this.machine.stop();
  }
}

export interface QemuPowerSpec {
  driver: 'qemu';
  offTimeMs?: number;
}

/** A QEMU board listed in a lab file without a simulated relay: QEMU's own power (rig/lab/lab-board.ts). */
export const driver: PowerDriver<QemuPowerSpec, 'simulated-board'> = {
  kind: 'simulated-board',
  name: 'qemu',
  label: "a QEMU board's own power: process start, kill, QMP reset",
  schema: { properties: { offTimeMs: KEY.ms } },
  check: qemuConsole,
};

/** A virtual board's console is its QEMU pty. */
export function qemuConsole(w: WiringView): WiringProblem | undefined {
  return w.serial.device === QEMU_SERIAL
    ? undefined
    : {
        field: 'serial.device',
        text: `serial.device must be "${QEMU_SERIAL}" for a virtual board (its console is the QEMU pty)`,
      };
}

/** `serial.device` of a virtual board: its QEMU pty, allocated at each power on. */
export const QEMU_SERIAL = 'qemu';
