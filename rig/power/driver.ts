import type { DriverDescriptor } from '../catalog/drivers.js';
import type { Spawner } from '../util/spawn.js';
import type { PowerSwitch } from './power-switch.js';

/** What a power driver gets besides its lab-file keys. */
export interface PowerContext {
  /** The board instance's name. */
  name: string;
  spawner?: Spawner;
}

/** How `hw-test doctor` checks a switch: off and read back, only ask its state, or not at all. */
export type DoctorProbe = 'switch' | 'query' | { skip: string };

/**
 * A power driver's descriptor (the `driver` export of its file, listed in ./registry.ts).
 * A `switch` driver makes a power switch for a real board's wiring; a `simulated-board` driver
 * stands for a whole simulated board (a QEMU machine), which the lab board composes itself.
 */
export type PowerDriverKind = 'switch' | 'simulated-board';

export type PowerDriver<
  S extends { driver: string },
  K extends PowerDriverKind = PowerDriverKind,
> = DriverDescriptor<S> & {
  doctorProbe?(spec: S): DoctorProbe;
} & (K extends 'switch'
    ? { readonly kind: 'switch'; create(spec: S, ctx: PowerContext): PowerSwitch }
    : { readonly kind: 'simulated-board' });
