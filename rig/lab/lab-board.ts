import path from 'node:path';
import type { BoardInstance } from '../board/board.js';
import { failurePatterns, loadBoard, type BoardType } from '../catalog/board.js';
import type { Lab, LabInstance, MuxSpec, PowerSpec } from '../catalog/lab.js';
import { findInstance } from '../catalog/lab.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { Console } from '../console/console.js';
import { InputError } from '../errors.js';
import { cacheRoot } from '../image/build.js';
import type { PowerState, PowerSwitch } from '../power/power-switch.js';
import { powerDriver, type SimulatedBoardDriver } from '../power/registry.js';
import type { StepRecord } from '../report/model.js';
import { muxDriver } from '../sdmux/registry.js';
import type { MuxState, SdMux } from '../sdmux/sd-mux.js';
import type { Spawner } from '../util/spawn.js';
import { StepLog, runTeardowns } from '../util/steps.js';
import {
  createVirtualRig,
  qemuBoardFactory,
  type QemuBoardFactory,
  type VirtualRig,
} from '../sim/virtual-rig.js';

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
  /** The instance's board type, when the caller has it loaded already. */
  type?: BoardType;
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

/** A power switch from a lab file's `power:` (its driver's factory, rig/power/registry.ts). */
export function createPower(spec: PowerSpec, name: string, opts: { spawner?: Spawner } = {}): PowerSwitch {
  const d = powerDriver(spec);
  if (d.kind !== 'switch') {
    throw new InputError(
      `power driver ${spec.driver} is a whole simulated board: compose it with its lab file (see boards/labs/virtual.yaml)`,
    );
  }
  return d.create(spec, { name, spawner: opts.spawner });
}

/** An SD mux from a lab file's `mux:` (its driver's factory, rig/sdmux/registry.ts). */
export function createMux(
  spec: MuxSpec,
  common: { name: string; beforeSwitch?: (signal?: AbortSignal) => Promise<void> },
  opts: { spawner?: Spawner } = {},
): SdMux {
  const d = muxDriver(spec);
  if (!d.create) {
    throw new InputError(
      `mux driver ${spec.driver} is part of a simulated board, made with its power driver (see boards/labs/virtual.yaml)`,
    );
  }
  return d.create(spec, { ...common, spawner: opts.spawner });
}

/** Each power and mux action is a step, recorded with the runner's own step primitive. */
function recorder(opts: LabBoardOptions): StepLog {
  return new StepLog({ end: (record) => opts.onStep?.(record) });
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
  record: StepLog,
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
      await record.run('power on', () => rawPower.on(signal));
      powered = 'on';
    },
    off: async (signal) => {
      // The mux powers off before every switch: a board already off is not a step worth a line.
      if (powered === 'off') return rawPower.off(signal);
      await record.run('power off', () => rawPower.off(signal));
      powered = 'off';
    },
    cycle: async (signal) => {
      if (mux && cardBoots && muxSide !== 'board') await mux.toBoard(signal);
      await record.run('power cycle', () => rawPower.cycle(signal));
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
      await record.run(label, fn);
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
  const type = opts.type ?? loadBoard(instance.type, opts.boardsDir);
  const record = recorder(opts);
  const simulated = instance.power.driver;
  if (isSimulatedBoard(simulated)) return SIMULATED_BOARDS[simulated](instance, type, opts, record);

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
  return finishBoard(instance, type, opts.os, composed, console, record, async () => {
    await console.close();
  });
}

type BoardMaker = (
  instance: LabInstance,
  type: BoardType,
  opts: LabBoardOptions,
  record: StepLog,
) => Promise<LabBoard>;

/** The power drivers that stand for a whole simulated board, and how each is composed. */
const SIMULATED_BOARDS: Record<SimulatedBoardDriver, BoardMaker> = {
  'sim-gpio-relay': (...a) => virtualLabBoard(...a),
  qemu: (...a) => plainQemuBoard(...a),
};

function isSimulatedBoard(driver: string): driver is SimulatedBoardDriver {
  return Object.hasOwn(SIMULATED_BOARDS, driver);
}

async function virtualLabBoard(
  instance: LabInstance,
  type: BoardType,
  opts: LabBoardOptions,
  record: StepLog,
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
  const board = finishBoard(instance, type, opts.os, composed, vr.qemu.console, record, () =>
    vr.releaseHardware(),
  );
  return Object.assign(board, { virtualRig: vr });
}

/** A QEMU board listed in a lab file without the simulated relay and mux: QEMU's own power. */
async function plainQemuBoard(
  instance: LabInstance,
  type: BoardType,
  opts: LabBoardOptions,
  record: StepLog,
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
  return finishBoard(instance, type, opts.os, composed, q.console, record, () => q.release(), disk);
}

function finishBoard(
  instance: LabInstance,
  type: BoardType,
  os: OsProfile,
  parts: { power: PowerSwitch; mux?: SdMux },
  console: Console,
  record: StepLog,
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
    steps: record.records,
    step: (name, work) => record.run(name, work),
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
      // Every part is released even when one fails: a stuck mux must not leave the board on.
      const errors = await runTeardowns(
        [
          { step: 'release the rest', run: releaseRest },
          { step: 'mux close', run: async () => parts.mux?.close() },
          { step: 'power close', run: () => parts.power.close() },
          { step: 'mux off', run: async () => parts.mux?.off() },
          { step: 'power off', run: () => parts.power.off() },
        ],
        {},
      );
      if (errors.length) throw errors[0] as Error;
    },
  };
}
