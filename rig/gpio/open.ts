import type { Spawner } from '../util/spawn.js';
import type { GpioChip } from './gpio.js';
import { gpioDriver } from './registry.js';

export interface GpioChipSpec {
  /** A GPIO driver's name (./registry.ts): sysfs (the default), libgpiod, sim (the virtual rig). */
  driver?: string;
  /** Chip label (`pinctrl-bcm2711`) or character device name (`gpiochip0`). */
  chip: string;
  /** sysfs root, for tests. */
  sysfsRoot?: string;
}

export function openGpioChip(spec: GpioChipSpec, opts: { spawner?: Spawner } = {}): GpioChip {
  return gpioDriver(spec.driver).open(spec.chip, { spawner: opts.spawner, sysfsRoot: spec.sysfsRoot });
}
