import type { BoardType } from '../catalog/board.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { Console } from '../console/console.js';
import type { PowerSwitch } from '../power/power-switch.js';
import type { StepRecord } from '../report/model.js';
import type { SdMux } from '../sdmux/sd-mux.js';

/**
 * One board instance on this host: the drivers composed for it. Built from the board type and,
 * for real hardware, the lab file (virtual boards need no lab file).
 *
 * Order is the board's business, not the caller's: `flashImage` powers off before switching the
 * mux, and `powerOn` switches the mux to the board first.
 */
export interface BoardInstance {
  /** Instance name (`odroid-xu4-2`), or the type name for a virtual board. */
  readonly name: string;
  readonly type: BoardType;
  readonly os: OsProfile;
  readonly power: PowerSwitch;
  readonly mux?: SdMux;
  /** The board's console; stays the same object across power cycles (reopened as needed). */
  readonly console: Console;
  /** Where the image is written: the mux's host device, or a virtual board's disk image file. */
  readonly storage: string;
  /** The board's own power and mux actions, when it records them (a lab board), for summary.json. */
  readonly steps?: readonly StepRecord[];
  /** Teardown: power off, mux off, stop helpers (QEMU, dnsmasq ...). Idempotent. */
  release(): Promise<void>;
}
