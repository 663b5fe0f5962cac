import { logger } from '../log.js';
import { settle, throwIfAborted } from '../util/abort.js';
import type { PowerState, PowerSwitch } from './power-switch.js';

const log = logger('power');

export interface PowerTiming {
  /** Off time before on in `cycle`, so the board's capacitors drain (default 2000 ms). */
  offTimeMs?: number;
  /** Documented settle time after switching, before the switch is considered to have acted. */
  settleMs?: number;
}

/**
 * What every power switch shares: idempotent on/off over one `apply`, the settle time, and
 * `cycle` as off, wait, on. A driver only says how to switch and how to read its state.
 */
export abstract class PowerSwitchBase implements PowerSwitch {
  protected last: PowerState = 'unknown';
  readonly offTimeMs: number;
  readonly settleMs: number;

  constructor(
    readonly name: string,
    timing: PowerTiming = {},
  ) {
    this.offTimeMs = timing.offTimeMs ?? 2000;
    this.settleMs = timing.settleMs ?? 0;
  }

  protected abstract apply(state: 'on' | 'off', signal?: AbortSignal): Promise<void>;

  async on(signal?: AbortSignal): Promise<void> {
    await this.#switch('on', signal);
  }

  async off(signal?: AbortSignal): Promise<void> {
    await this.#switch('off', signal);
  }

  async #switch(state: 'on' | 'off', signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.last === state) return;
    log('%s %s', this.name, state);
    await this.apply(state, signal);
    this.last = state;
    if (this.settleMs > 0) await settle(this.settleMs, signal);
  }

  async cycle(signal?: AbortSignal): Promise<void> {
    // Forced off even when we believe it is off: someone may have switched it by hand.
    this.last = 'unknown';
    await this.off(signal);
    await settle(this.offTimeMs, signal);
    await this.on(signal);
  }

  state(): Promise<PowerState> {
    return Promise.resolve(this.last);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
