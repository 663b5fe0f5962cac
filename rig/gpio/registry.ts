import { unknownDriver } from '../catalog/drivers.js';
import { InputError } from '../errors.js';
import { driver as sim } from '../sim/gpio-chip.js';
import type { GpioDriver } from './driver.js';
import { driver as libgpiod } from './libgpiod.js';
import { driver as sysfs } from './sysfs.js';

/** Every GPIO driver (`gpio:` in the lab file); the first is the default. */
export const GPIO_DRIVERS = [sysfs, libgpiod, sim] as const;

export type GpioDriverName = (typeof GPIO_DRIVERS)[number]['name'];

export function gpioDriver(name: string | undefined): GpioDriver {
  const d = GPIO_DRIVERS.find((x) => x.name === (name ?? GPIO_DRIVERS[0].name));
  if (!d) throw new InputError(unknownDriver('GPIO', String(name), GPIO_DRIVERS));
  return d;
}
