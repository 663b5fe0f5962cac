import { logger } from '../log.js';
import { throwIfAborted } from '../util/abort.js';
import { waitForPath, type WaitEnv } from './block-device.js';
import type { MuxState, SdMux } from './sd-mux.js';

const log = logger('sdmux');

export interface MuxCommon {
  name: string;
  /** The host-side block device (`/dev/disk/by-id/...`); the flasher writes nowhere else. */
  hostDevice: string;
  /** How long the block device may take to appear or vanish (default 10 s). */
  deviceTimeoutMs?: number;
  /**
   * Called before every switch: the board composition powers the board off here, because
   * switching a card under a running board corrupts it (and some muxes brown it out).
   */
  beforeSwitch?: (signal?: AbortSignal) => Promise<void>;
  waitEnv?: WaitEnv;
}

/**
 * What every SD mux shares: the power-off hook before a switch, and the wait for the host-side
 * block device after it. A driver only says how to switch and how to read the state back.
 */
export abstract class SdMuxBase implements SdMux {
  readonly name: string;
  readonly hostDevice: string;

  constructor(protected readonly common: MuxCommon) {
    this.name = common.name;
    this.hostDevice = common.hostDevice;
  }

  protected abstract switchTo(mode: 'host' | 'board' | 'off', signal?: AbortSignal): Promise<void>;
  abstract state(): Promise<MuxState>;

  /** A label naming the hardware in messages, e.g. `usbsdmux /dev/sg2`. */
  abstract get what(): string;

  async #go(mode: 'host' | 'board' | 'off', signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await this.common.beforeSwitch?.(signal);
    log('%s -> %s', this.what, mode);
    await this.switchTo(mode, signal);
    await waitForPath(this.hostDevice, mode === 'host', {
      mux: this.what,
      timeoutMs: this.common.deviceTimeoutMs ?? 10_000,
      signal,
      env: this.common.waitEnv,
    });
  }

  toHost(signal?: AbortSignal): Promise<void> {
    return this.#go('host', signal);
  }

  toBoard(signal?: AbortSignal): Promise<void> {
    return this.#go('board', signal);
  }

  off(signal?: AbortSignal): Promise<void> {
    return this.#go('off', signal);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
