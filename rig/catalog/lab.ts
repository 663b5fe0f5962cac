import path from 'node:path';
import { InputError } from '../errors.js';
import type { GpioDriver } from '../gpio/open.js';
import { BOARDS_DIR, boardNames } from './board.js';
import { ROOT, loadYaml } from './schema.js';

/**
 * The lab wiring file: which relay, mux, UART and network port belong to which board instance on
 * this rig host. Each YAML key maps one-to-one onto a driver's constructor argument
 * (boards/schema/lab.schema.json; a worked example in docs/wiring.md).
 */
export type PowerSpec =
  | {
      driver: 'gpio-relay';
      gpio?: GpioDriver;
      chip: string;
      line: number;
      activeLow?: boolean;
      offTimeMs?: number;
      settleMs?: number;
    }
  | {
      driver: 'sim-gpio-relay';
      chip?: string;
      line: number;
      activeLow?: boolean;
      offTimeMs?: number;
      settleMs?: number;
    }
  | { driver: 'uhubctl'; location: string; port: number; offTimeMs?: number; settleMs?: number }
  | {
      driver: 'command';
      on: string[];
      off: string[];
      state?: string[];
      offTimeMs?: number;
      settleMs?: number;
    }
  | { driver: 'qemu'; offTimeMs?: number };

export type MuxSpec =
  | { driver: 'usbsdmux'; sg: string; device: string; timeoutMs?: number }
  | { driver: 'sdwire'; serial: string; device: string; timeoutMs?: number }
  | {
      driver: 'gpio-mux';
      gpio?: GpioDriver;
      chip: string;
      select: number;
      hostLevel?: 0 | 1;
      cardPower?: { line: number; activeLow?: boolean };
      device: string;
      timeoutMs?: number;
    }
  | {
      driver: 'virtual-mux';
      chip?: string;
      select: number;
      hostLevel?: 0 | 1;
      image?: string;
      timeoutMs?: number;
    };

export interface LabInstanceSpec {
  type: string;
  description?: string;
  power: PowerSpec;
  mux?: MuxSpec;
  serial: { device: string; baud?: number };
  network?: { interface: string; dhcp?: boolean };
  wifi?: { apInterface: string };
}

export interface Lab {
  file: string;
  host?: string;
  description?: string;
  boards: Record<string, LabInstanceSpec>;
}

export interface LabInstance extends LabInstanceSpec {
  name: string;
  /** The lab file it comes from, for error messages. */
  file: string;
}

export const WIRING_DOCS = 'docs/wiring.md';
export const LABS_DIR = path.join(ROOT, 'boards', 'labs');
export const VIRTUAL_LAB = path.join(LABS_DIR, 'virtual.yaml');
/** `serial.device` of a virtual board: its QEMU pty, allocated at each power on. */
export const QEMU_SERIAL = 'qemu';

/** `--lab FILE`, else `$HW_TEST_LAB`; undefined when neither is set. */
export function labPath(
  cliFlag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const p = cliFlag ?? (env.HW_TEST_LAB || undefined);
  return p === undefined ? undefined : path.resolve(p);
}

export function loadLab(file: string, boardsDir = BOARDS_DIR): Lab {
  const lab = { ...loadYaml<Omit<Lab, 'file'>>(file, 'lab.schema.json', 'lab'), file };
  const types = boardNames(boardsDir);
  for (const [name, inst] of Object.entries(lab.boards)) {
    if (!types.includes(inst.type)) {
      throw new InputError(
        `${file}: boards.${name}.type "${inst.type}" is not a board type; known types are ${types.join(', ')}`,
        {
          file,
          field: `boards.${name}.type`,
        },
      );
    }
    checkDrivers(file, name, inst);
  }
  return lab;
}

/** Cross-field rules the schema cannot say in one line. */
function checkDrivers(file: string, name: string, inst: LabInstanceSpec): void {
  const virtualPower = inst.power.driver === 'sim-gpio-relay' || inst.power.driver === 'qemu';
  if (inst.mux?.driver === 'virtual-mux' && inst.power.driver !== 'sim-gpio-relay') {
    throw new InputError(`${file}: boards.${name}.mux: a virtual-mux needs the sim-gpio-relay power driver`, {
      file,
      field: `boards.${name}.mux.driver`,
    });
  }
  if (virtualPower && inst.serial.device !== QEMU_SERIAL) {
    throw new InputError(
      `${file}: boards.${name}.serial.device must be "${QEMU_SERIAL}" for a virtual board (its console is the QEMU pty)`,
      {
        file,
        field: `boards.${name}.serial.device`,
      },
    );
  }
}

function instance(lab: Lab, name: string): LabInstance {
  return { ...lab.boards[name], name, file: lab.file };
}

export function instancesOfType(lab: Lab, type: string): LabInstance[] {
  return Object.keys(lab.boards)
    .filter((n) => lab.boards[n].type === type)
    .sort()
    .map((n) => instance(lab, n));
}

export function allInstances(lab: Lab): LabInstance[] {
  return Object.keys(lab.boards)
    .sort()
    .map((n) => instance(lab, n));
}

/**
 * `--board NAME`: an instance name (`odroid-xu4-2`), or a type with exactly one instance here.
 * Anything else is bad input (exit 2) naming the lab file and pointing to the wiring docs.
 */
export function findInstance(lab: Lab, boardArg: string): LabInstance {
  // Own keys only: `--board constructor` or `__proto__` is a name like any other, not Object's.
  if (Object.hasOwn(lab.boards, boardArg)) return instance(lab, boardArg);
  const ofType = instancesOfType(lab, boardArg);
  if (ofType.length === 1) return ofType[0];
  const wired = Object.keys(lab.boards).sort().join(', ');
  if (ofType.length > 1) {
    throw new InputError(
      `${lab.file}: board type ${boardArg} has ${ofType.length} instances here (${ofType.map((i) => i.name).join(', ')}); name one with --board`,
      { file: lab.file, board: boardArg },
    );
  }
  throw new InputError(
    `${lab.file}: no board "${boardArg}" is wired on this host (wired: ${wired}); add it to the lab file, see ${WIRING_DOCS}`,
    { file: lab.file, board: boardArg },
  );
}
