import type { DriverDescriptor } from '../catalog/drivers.js';
import type { Spawner } from '../util/spawn.js';
import type { SdMux } from './sd-mux.js';

/** What a mux driver gets besides its lab-file keys. */
export interface MuxContext {
  /** The board instance's name. */
  name: string;
  spawner?: Spawner;
  /** Powers the board off before each switch (the lab board's power switch). */
  beforeSwitch?: (signal?: AbortSignal) => Promise<void>;
}

/** Every mux driver's keys include its device timeout. */
export interface MuxSpecBase {
  driver: string;
  timeoutMs?: number;
}

/**
 * An SD-mux driver's descriptor (the `driver` export of its file, listed in ./registry.ts).
 * `create` is absent for a mux that is part of a simulated board, made with it by the power
 * driver its `check` requires.
 */
export interface MuxDriver<S extends MuxSpecBase> extends DriverDescriptor<S> {
  create?(spec: S, ctx: MuxContext): SdMux;
}
