import { unknownDriver } from '../catalog/drivers.js';
import { InputError } from '../errors.js';
import { driver as simRelay } from '../sim/sim-relay.js';
import { driver as command } from './command.js';
import type { PowerDriver, PowerDriverKind } from './driver.js';
import { driver as gpioRelay } from './gpio-relay.js';
import { driver as qemu } from './qemu-power.js';
import { driver as uhubctl } from './uhubctl.js';

/** Every power driver (`power.driver` in the lab file): a new one is its file plus a line here. */
export const POWER_DRIVERS = [gpioRelay, simRelay, uhubctl, command, qemu] as const;

type Descriptor = (typeof POWER_DRIVERS)[number];
type SpecOf<D> = D extends PowerDriver<infer S, PowerDriverKind> ? S : never;

/** What `power:` of a lab board can say: one of the drivers' keys. */
export type PowerSpec = SpecOf<Descriptor>;
export type PowerDriverName = PowerSpec['driver'];
/** The drivers that stand for a whole simulated board (the lab board composes those itself). */
export type SimulatedBoardDriver = Extract<Descriptor, { kind: 'simulated-board' }>['name'];

/** The descriptor of a spec's driver, typed for it. */
export function powerDriver<S extends PowerSpec>(spec: S): PowerDriver<S> {
  const d = POWER_DRIVERS.find((x) => x.name === spec.driver);
  if (!d) throw new InputError(unknownDriver('power', spec.driver, POWER_DRIVERS));
  // The registry holds one descriptor per name, and `spec.driver` named this one.
  return d as unknown as PowerDriver<S>;
}
