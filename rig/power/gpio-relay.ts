import { InfraError } from '../errors.js';
import type { GpioChip, GpioLine, Level } from '../gpio/gpio.js';
import type { PowerState } from './power-switch.js';
import { PowerSwitchBase, type PowerTiming } from './switch-base.js';
import { KEY, type GpioLineUse } from '../catalog/drivers.js';
import { openGpioChip } from '../gpio/open.js';
import { gpioDriver, type GpioDriverName } from '../gpio/registry.js';
import type { PowerDriver } from './driver.js';

export interface GpioRelayOptions extends PowerTiming {
  name: string;
  chip: GpioChip;
  line: number;
  /** Most relay boards switch on when their input is pulled low. */
  activeLow?: boolean;
  /** Read the line back after each write and fail when it does not follow (default true). */
  verify?: boolean;
}

/**
 * A relay on a GPIO line. The line is claimed at the first command, with that command's level as
 * its initial value, so claiming never switches the board (close does not either).
 */
export class GpioRelay extends PowerSwitchBase {
  readonly #opts: GpioRelayOptions;
  #line: GpioLine | undefined;

  constructor(opts: GpioRelayOptions) {
    super(opts.name, opts);
    this.#opts = opts;
  }

  /** The electrical level that means `state` on this relay. */
  levelFor(state: 'on' | 'off'): Level {
    const active: Level = this.#opts.activeLow ? 0 : 1;
    return state === 'on' ? active : active === 1 ? 0 : 1;
  }

  get what(): string {
    return `relay ${this.name} (${this.#opts.chip.name} line ${this.#opts.line}, active-${this.#opts.activeLow ? 'low' : 'high'})`;
  }

  protected async apply(state: 'on' | 'off'): Promise<void> {
    const level = this.levelFor(state);
    try {
      if (!this.#line) this.#line = await this.#opts.chip.claim(this.#opts.line, 'out', level);
      else await this.#line.write(level);
    } catch (err) {
      throw new InfraError(
        `${this.what}: cannot switch ${state}: ${(err as Error).message}`,
        { device: this.what },
        { cause: err },
      );
    }
    if (this.#opts.verify === false) return;
    const seen = await this.#line.read();
    if (seen !== level) {
      throw new InfraError(
        `${this.what} did not answer: line reads ${seen} after writing ${level} (${state})`,
        {
          device: this.what,
          expected: level,
          actual: seen,
        },
      );
    }
  }

  /** Reads the line back where it is claimed; before the first command the state is unknown. */
  override async state(): Promise<PowerState> {
    if (!this.#line) return 'unknown';
    const level = await this.#line.read();
    return level === this.levelFor('on') ? 'on' : 'off';
  }

  override async close(): Promise<void> {
    await this.#line?.release();
    this.#line = undefined;
    this.last = 'unknown';
  }
}

export interface GpioRelaySpec {
  driver: 'gpio-relay';
  gpio?: GpioDriverName;
  chip: string;
  line: number;
  activeLow?: boolean;
  offTimeMs?: number;
  settleMs?: number;
}

/** The relay's line, claimed at the level that leaves the board off. */
export function relayLine(
  spec: { line: number; activeLow?: boolean },
  chip: string,
  driver?: string,
): GpioLineUse {
  return { chip, driver, line: spec.line, level: spec.activeLow ? 1 : 0, role: 'relay' };
}

export const driver: PowerDriver<GpioRelaySpec, 'switch'> = {
  kind: 'switch',
  name: 'gpio-relay',
  label: 'a relay on a GPIO line (its level read back after each switch)',
  schema: {
    required: ['chip', 'line'],
    properties: {
      gpio: KEY.gpio,
      chip: KEY.chip,
      line: KEY.line,
      activeLow: KEY.activeLow,
      offTimeMs: KEY.ms,
      settleMs: KEY.ms,
    },
  },
  tools: (spec) => [...gpioDriver(spec.gpio).tools],
  gpioLines: (spec) => [relayLine(spec, spec.chip, spec.gpio)],
  create: (spec, ctx) =>
    new GpioRelay({
      name: ctx.name,
      chip: openGpioChip({ driver: spec.gpio, chip: spec.chip }, { spawner: ctx.spawner }),
      line: spec.line,
      activeLow: spec.activeLow,
      offTimeMs: spec.offTimeMs,
      settleMs: spec.settleMs,
    }),
};
