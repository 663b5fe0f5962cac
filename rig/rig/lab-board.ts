import path from 'node:path';
import type { BoardInstance } from '../board/board.js';
import { failurePatterns, loadBoard, type BoardType } from '../catalog/board.js';
import type { Lab, LabInstance, MuxSpec, PowerSpec } from '../catalog/lab.js';
import { findInstance } from '../catalog/lab.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { Console } from '../console/console.js';
import { InputError, classOf, errorMessage } from '../errors.js';
import { openGpioChip } from '../gpio/open.js';
import { cacheRoot } from '../image/build.js';
import { CommandPower } from '../power/command.js';
import { GpioRelay } from '../power/gpio-relay.js';
import type { PowerState, PowerSwitch } from '../power/power-switch.js';
import { UhubctlPower } from '../power/uhubctl.js';
import type { StepRecord } from '../report/model.js';
import { GpioMux } from '../sdmux/gpio-mux.js';
import type { MuxCommon } from '../sdmux/mux-base.js';
import type { MuxState, SdMux } from '../sdmux/sd-mux.js';
import { SdWire } from '../sdmux/sdwire.js';
import { UsbSdMux } from '../sdmux/usbsdmux.js';
import type { Spawner } from '../util/spawn.js';
import { createVirtualRig, qemuBoardFactory, type QemuBoardFactory, type VirtualRig } from './virtual-rig.js';

export interface LabBoardOptions {
  os: OsProfile;
  spawner?: Spawner;
  netArgs?: string[];
  wrapper?: string[];
  env?: NodeJS.ProcessEnv;
  /** Every power and mux action, as a step with its duration (for summary.json). */
  onStep?: (step: StepRecord) => void;
  /** Virtual rigs: how to build the QEMU board (tests inject one). */
  qemuFactory?: QemuBoardFactory;
  boardsDir?: string;
}

export interface LabBoard extends BoardInstance {
  readonly instance: LabInstance;
  /** Power and mux actions so far, in order, with durations. */
  readonly steps: readonly StepRecord[];
  /** Set for a virtual rig instance. */
  readonly virtualRig?: VirtualRig;
  /** Runs and records any other step (flash, boot) in the same list, so the sequence reads whole. */
  step<T>(name: string, work: () => Promise<T>): Promise<T>;
}

export function createPower(spec: PowerSpec, name: string, opts: { spawner?: Spawner } = {}): PowerSwitch {
  switch (spec.driver) {
    case 'gpio-relay':
      return new GpioRelay({
        name,
        chip: openGpioChip({ driver: spec.gpio, chip: spec.chip }, opts),
        line: spec.line,
        activeLow: spec.activeLow,
        offTimeMs: spec.offTimeMs,
        settleMs: spec.settleMs,
      });
    case 'uhubctl':
      return new UhubctlPower({ name, spawner: opts.spawner, ...spec });
    case 'command':
      return new CommandPower({ name, spawner: opts.spawner, ...spec });
    default:
      throw new InputError(
        `power driver ${spec.driver} belongs to a virtual rig (see boards/labs/virtual.yaml)`,
      );
  }
}

export function createMux(
  spec: MuxSpec,
  common: Omit<MuxCommon, 'hostDevice'>,
  opts: { spawner?: Spawner } = {},
): SdMux {
  const base = { ...common, deviceTimeoutMs: spec.timeoutMs };
  switch (spec.driver) {
    case 'usbsdmux':
      return new UsbSdMux({ ...base, hostDevice: spec.device, sg: spec.sg, spawner: opts.spawner });
    case 'sdwire':
      return new SdWire({ ...base, hostDevice: spec.device, serial: spec.serial, spawner: opts.spawner });
    case 'gpio-mux':
      return new GpioMux({
        ...base,
        hostDevice: spec.device,
        chip: openGpioChip({ driver: spec.gpio, chip: spec.chip }, opts),
        select: { line: spec.select, hostLevel: spec.hostLevel },
        power: spec.cardPower,
      });
    default:
      throw new InputError(
        `mux driver ${spec.driver} belongs to a virtual rig (see boards/labs/virtual.yaml)`,
      );
  }
}

/** Records each action as a step (name, start, duration, verdict), as the runner's steps are. */
function recorder(steps: StepRecord[], onStep?: (s: StepRecord) => void) {
  return async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    const push = (verdict: StepRecord['verdict'], message?: string) => {
      const rec: StepRecord = {
        name,
        startedAt,
        durationMs: Math.round(performance.now() - t0),
        verdict,
        message,
      };
      steps.push(rec);
      onStep?.(rec);
    };
    try {
      const r = await work();
      push('pass');
      return r;
    } catch (err) {
      const c = classOf(err);
      push(c === 'input' ? 'error' : c, errorMessage(err));
      throw err;
    }
  };
}

/**
 * The ordering rules of a board on a rig, whatever the drivers: the board is powered off before
 * the mux moves (the mux's beforeSwitch), and the mux is on the board side before power on.
 * A flasher board is the exception to the second rule: its card is on the board side only for the
 * flasher stage (rig/flash/two-stage.ts moves it), and every later power on must boot internal
 * storage with the card away, or the flasher would run again.
 */
function compose(
  rawPower: PowerSwitch,
  rawMux: SdMux | undefined,
  record: ReturnType<typeof recorder>,
  type: BoardType,
): { power: PowerSwitch; mux?: SdMux } {
  const cardBoots = type.boot.medium !== 'flasher';
  let muxSide: MuxState = 'unknown';
  let powered: PowerState = 'unknown';
  let mux: SdMux | undefined;
  const power: PowerSwitch = {
    name: rawPower.name,
    on: async (signal) => {
      if (mux && cardBoots && muxSide !== 'board') await mux.toBoard(signal);
      await record('power on', () => rawPower.on(signal));
      powered = 'on';
    },
    off: async (signal) => {
      // The mux powers off before every switch: a board already off is not a step worth a line.
      if (powered === 'off') return rawPower.off(signal);
      await record('power off', () => rawPower.off(signal));
      powered = 'off';
    },
    cycle: async (signal) => {
      if (mux && cardBoots && muxSide !== 'board') await mux.toBoard(signal);
      await record('power cycle', () => rawPower.cycle(signal));
      powered = 'on';
    },
    state: (): Promise<PowerState> => rawPower.state(),
    close: () => {
      powered = 'unknown';
      return rawPower.close();
    },
  };
  if (rawMux) {
    const m = rawMux;
    const go = async (side: 'host' | 'board' | 'off', label: string, fn: () => Promise<void>) => {
      await record(label, fn);
      muxSide = side;
    };
    mux = {
      name: m.name,
      hostDevice: m.hostDevice,
      toHost: (signal) => go('host', 'mux to host', () => m.toHost(signal)),
      toBoard: (signal) => go('board', 'mux to board', () => m.toBoard(signal)),
      off: (signal) => go('off', 'mux off', () => m.off(signal)),
      state: () => m.state(),
      close: () => m.close(),
    };
  }
  return { power, mux };
}

function rigDir(instance: LabInstance, env?: NodeJS.ProcessEnv): string {
  return path.join(cacheRoot(env), 'rig', instance.name);
}

/**
 * Composes the drivers of one lab board instance: power, mux and console from the lab file.
 * A virtual rig instance (sim-gpio-relay + virtual-mux on a QEMU type) gets its QEMU board wired
 * behind the simulated relay and mux.
 */
export async function createLabBoard(
  lab: Lab,
  instanceName: string,
  opts: LabBoardOptions,
): Promise<LabBoard> {
  const instance = findInstance(lab, instanceName);
  const type = loadBoard(instance.type, opts.boardsDir);
  const steps: StepRecord[] = [];
  const record = recorder(steps, opts.onStep);
  if (instance.power.driver === 'sim-gpio-relay') return virtualLabBoard(instance, type, opts, steps, record);
  if (instance.power.driver === 'qemu') return plainQemuBoard(instance, type, opts, steps, record);

  // The power switch exists before the mux, so that the mux's beforeSwitch can call it.
  const rawPower = createPower(instance.power, instance.name, opts);
  const holder: { power?: PowerSwitch } = {};
  const rawMux = instance.mux
    ? createMux(
        instance.mux,
        { name: instance.name, beforeSwitch: (signal) => holder.power!.off(signal) },
        opts,
      )
    : undefined;
  const composed = compose(rawPower, rawMux, record, type);
  holder.power = composed.power;
  const { SerialConsole } = await import('../console/serial.js');
  const console: Console = new SerialConsole({
    name: `${instance.name} console`,
    path: instance.serial.device,
    baudRate: instance.serial.baud ?? type.serial.baud,
    failurePatterns: failurePatterns(type),
  });
  return finishBoard(instance, type, opts.os, composed, console, steps, record, async () => {
    await console.close();
  });
}

async function virtualLabBoard(
  instance: LabInstance,
  type: BoardType,
  opts: LabBoardOptions,
  steps: StepRecord[],
  record: ReturnType<typeof recorder>,
): Promise<LabBoard> {
  const holder: { power?: PowerSwitch } = {};
  const vr = await createVirtualRig({
    instance,
    type,
    os: opts.os,
    dir: rigDir(instance, opts.env),
    netArgs: opts.netArgs,
    wrapper: opts.wrapper,
    spawner: opts.spawner,
    qemuFactory: opts.qemuFactory,
    beforeSwitch: (signal) => holder.power!.off(signal),
  });
  const composed = compose(vr.relay, vr.mux, record, type);
  holder.power = composed.power;
  const board = finishBoard(instance, type, opts.os, composed, vr.qemu.console, steps, record, () =>
    vr.releaseHardware(),
  );
  return Object.assign(board, { virtualRig: vr });
}

/** A QEMU board listed in a lab file without the simulated relay and mux: QEMU's own power. */
async function plainQemuBoard(
  instance: LabInstance,
  type: BoardType,
  opts: LabBoardOptions,
  steps: StepRecord[],
  record: ReturnType<typeof recorder>,
): Promise<LabBoard> {
  const disk = path.join(rigDir(instance, opts.env), 'disk.img');
  const q = await (opts.qemuFactory ?? qemuBoardFactory)({
    type,
    os: opts.os,
    name: instance.name,
    disk,
    netArgs: opts.netArgs,
    wrapper: opts.wrapper,
    spawner: opts.spawner,
  });
  const composed = compose(q.power, undefined, record, type);
  return finishBoard(instance, type, opts.os, composed, q.console, steps, record, () => q.release(), disk);
}

function finishBoard(
  instance: LabInstance,
  type: BoardType,
  os: OsProfile,
  parts: { power: PowerSwitch; mux?: SdMux },
  console: Console,
  steps: StepRecord[],
  record: ReturnType<typeof recorder>,
  releaseRest: () => Promise<void>,
  /** Where to write the image when there is no mux (a plain QEMU board: its disk image). */
  disk?: string,
): LabBoard {
  let released = false;
  return {
    name: instance.name,
    type,
    os,
    instance,
    steps,
    step: (name, work) => record(name, work),
    power: parts.power,
    mux: parts.mux,
    console,
    get storage(): string {
      if (disk) return disk;
      if (!parts.mux) {
        throw new InputError(
          `${instance.file}: boards.${instance.name} has no mux: nothing to flash through (see docs/wiring.md)`,
          {
            file: instance.file,
            field: `boards.${instance.name}.mux`,
          },
        );
      }
      return parts.mux.hostDevice;
    },
    async release() {
      if (released) return;
      released = true;
      // Teardown runs every part even when one fails: a stuck mux must not leave the board on.
      const errors: unknown[] = [];
      for (const step of [
        () => parts.power.off(),
        () => parts.mux?.off(),
        () => parts.power.close(),
        () => parts.mux?.close(),
        releaseRest,
      ]) {
        try {
          await step();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length) throw errors[0] as Error;
    },
  };
}
