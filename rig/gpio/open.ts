import { InputError } from '../errors.js';
import type { Spawner } from '../util/spawn.js';
import type { GpioChip } from './gpio.js';
import { LibgpiodChip } from './libgpiod.js';
import { simChip } from './sim-chip.js';
import { SysfsGpioChip } from './sysfs.js';

export type GpioDriver = 'sysfs' | 'libgpiod' | 'sim';

export interface GpioChipSpec {
  /** sysfs (default on real rigs), libgpiod (kernels without sysfs GPIO), or sim (the virtual rig). */
  driver?: GpioDriver;
  /** Chip label (`pinctrl-bcm2711`) or character device name (`gpiochip0`). */
  chip: string;
  /** sysfs root, for tests. */
  sysfsRoot?: string;
}

export function openGpioChip(spec: GpioChipSpec, opts: { spawner?: Spawner } = {}): GpioChip {
  switch (spec.driver ?? 'sysfs') {
    case 'sysfs':
      return new SysfsGpioChip(spec.chip, { root: spec.sysfsRoot });
    case 'libgpiod':
      return new LibgpiodChip(spec.chip, { spawner: opts.spawner });
    case 'sim':
      return simChip(spec.chip);
    default:
      throw new InputError(`unknown GPIO driver "${String(spec.driver)}": use sysfs, libgpiod or sim`);
  }
}
