/**
 * An SD-card multiplexer: the card is on the host (to flash it), on the board (to boot it), or off.
 * Implementations: LXA USB-SD-Mux (`usbsdmux.ts`), SDWire (`sdwire.ts`), a GPIO-switched mux
 * (`gpio-mux.ts`) and a virtual mux for QEMU (`rig/sim/virtual-mux.ts`); each driver's
 * descriptor (its lab-file keys, factory, doctor checks, tools) is listed in `registry.ts`.
 *
 * Contract:
 * - `toHost` resolves only once the host-side block device exists (waited for with a timeout);
 *   `toBoard`/`off` resolve once it is gone. A mux that does not answer or whose device never
 *   appears throws an `InfraError` naming the mux and the device.
 * - The caller powers the board off before switching (the hardware requires it); the Board
 *   composition enforces that order.
 * - `hostDevice` is the declared block device (a `/dev/disk/by-id/...` path, or for the virtual
 *   mux the disk image file). The flasher writes nowhere else.
 */
export type MuxState = 'host' | 'board' | 'off' | 'unknown';

export interface SdMux {
  readonly name: string;
  readonly hostDevice: string;
  toHost(signal?: AbortSignal): Promise<void>;
  toBoard(signal?: AbortSignal): Promise<void>;
  off(signal?: AbortSignal): Promise<void>;
  state(): Promise<MuxState>;
  close(): Promise<void>;
}
