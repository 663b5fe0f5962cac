import type { ToolNeed } from '../catalog/drivers.js';
import type { Spawner } from '../util/spawn.js';
import type { GpioChip } from './gpio.js';

/** A GPIO driver's descriptor (`gpio:` in the lab file), listed in ./registry.ts. */
export interface GpioDriver<N extends string = string> {
  readonly name: N;
  readonly label: string;
  readonly tools: readonly ToolNeed[];
  open(chip: string, opts: { spawner?: Spawner; sysfsRoot?: string }): GpioChip;
}
