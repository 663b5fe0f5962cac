import path from 'node:path';
import { InputError } from '../errors.js';
import { capabilitySchema, type DriverDescriptor, type WiringView } from './drivers.js';
import { GPIO_DRIVERS } from '../gpio/registry.js';
import { POWER_DRIVERS, powerDriver, type PowerSpec } from '../power/registry.js';
import { MUX_DRIVERS, type MuxSpec } from '../sdmux/registry.js';
import { QEMU_SERIAL } from '../power/qemu-power.js';
import { BOARDS_DIR, boardNames } from './board.js';
import { ROOT, loadYaml, readSchema } from './schema.js';
import { checkWifi, type WifiSpec } from './lab-wifi.js';

/**
 * The lab wiring file: which relay, mux, UART and network port belong to which board instance on
 * this rig host. Each YAML key maps one-to-one onto a driver's constructor argument: the drivers
 * describe their keys themselves (rig/power/registry.ts, rig/sdmux/registry.ts), and the file's
 * schema is boards/schema/lab.base.schema.json plus theirs (a worked example in docs/wiring.md).
 */
export type { PowerSpec } from '../power/registry.js';
export type { MuxSpec } from '../sdmux/registry.js';
export type { WifiSpec } from './lab-wifi.js';

export interface LabInstanceSpec {
  type: string;
  description?: string;
  power: PowerSpec;
  mux?: MuxSpec;
  serial: { device: string; baud?: number };
  network?: { interface: string; dhcp?: boolean };
  wifi?: WifiSpec;
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
export { QEMU_SERIAL };

/** The lab file's schema: the base, with `power`, `mux` and `gpio` from the driver registries. */
export function labSchema(): Record<string, unknown> {
  const base = readSchema('lab.base.schema.json');
  const definitions = (base.definitions ?? {}) as Record<string, unknown>;
  return {
    ...base,
    definitions: {
      ...definitions,
      gpioDriver: { enum: GPIO_DRIVERS.map((d) => d.name) },
      power: capabilitySchema('power', POWER_DRIVERS),
      mux: capabilitySchema('mux', MUX_DRIVERS),
    },
  };
}

const LAB_SCHEMA = { id: 'lab', compose: labSchema };

/** `--lab FILE`, else `$HW_TEST_LAB`; undefined when neither is set. */
export function labPath(
  cliFlag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const p = cliFlag ?? (env.HW_TEST_LAB || undefined);
  return p === undefined ? undefined : path.resolve(p);
}

export function loadLab(file: string, boardsDir = BOARDS_DIR): Lab {
  const lab = { ...loadYaml<Omit<Lab, 'file'>>(file, LAB_SCHEMA, 'lab'), file };
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
    if (inst.wifi)
      checkWifi({ file, name, wifi: inst.wifi, virtual: simulatedBoard(inst), docs: WIRING_DOCS });
  }
  return lab;
}

/** The instance is a simulated board (its power driver stands for the whole board). */
export function simulatedBoard(inst: Pick<LabInstanceSpec, 'power'>): boolean {
  return powerDriver(inst.power).kind === 'simulated-board';
}

/** Cross-field rules the schema cannot say in one line: each driver's own (`check`). */
function checkDrivers(file: string, name: string, inst: LabInstanceSpec): void {
  const drivers: (DriverDescriptor<{ driver: string }> | undefined)[] = [
    MUX_DRIVERS.find((d) => d.name === inst.mux?.driver),
    POWER_DRIVERS.find((d) => d.name === inst.power.driver),
  ];
  const wiring: WiringView = inst;
  for (const d of drivers) {
    const problem = d?.check?.(wiring);
    if (problem) {
      throw new InputError(`${file}: boards.${name}.${problem.text}`, {
        file,
        field: `boards.${name}.${problem.field}`,
      });
    }
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
