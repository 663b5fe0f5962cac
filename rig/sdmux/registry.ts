import { unknownDriver } from '../catalog/drivers.js';
import { InputError } from '../errors.js';
import { driver as virtualMux } from '../sim/virtual-mux.js';
import type { MuxDriver } from './driver.js';
import { driver as gpioMux } from './gpio-mux.js';
import { driver as sdwire } from './sdwire.js';
import { driver as usbsdmux } from './usbsdmux.js';

/** Every SD-mux driver (`mux.driver` in the lab file): a new one is its file plus a line here. */
export const MUX_DRIVERS = [usbsdmux, sdwire, gpioMux, virtualMux] as const;

type SpecOf<D> = D extends MuxDriver<infer S> ? S : never;

/** What `mux:` of a lab board can say: one of the drivers' keys. */
export type MuxSpec = SpecOf<(typeof MUX_DRIVERS)[number]>;

/** The descriptor of a spec's driver, typed for it. */
export function muxDriver<S extends MuxSpec>(spec: S): MuxDriver<S> {
  const d = MUX_DRIVERS.find((x) => x.name === spec.driver);
  if (!d) throw new InputError(unknownDriver('mux', spec.driver, MUX_DRIVERS));
  // The registry holds one descriptor per name, and `spec.driver` named this one.
  return d as unknown as MuxDriver<S>;
}
