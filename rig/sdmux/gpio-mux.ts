import { InfraError } from '../errors.js';
import type { GpioChip, GpioLine, Level } from '../gpio/gpio.js';
import { settle } from '../util/abort.js';
import { SdMuxBase, type MuxCommon } from './mux-base.js';
import type { MuxState } from './sd-mux.js';
import { KEY, type GpioLineUse } from '../catalog/drivers.js';
import { openGpioChip } from '../gpio/open.js';
import { gpioDriver, type GpioDriverName } from '../gpio/registry.js';
import type { MuxDriver } from './driver.js';

export interface GpioMuxOptions extends MuxCommon {
  chip: GpioChip;
  /** The select pin: which side the card's data lines go to. */
  select: { line: number; hostLevel?: Level };
  /** Optional card power pin: cut while switching, so the card resets cleanly on its new side. */
  power?: { line: number; activeLow?: boolean };
  /** How long the card stays unpowered while switching (default 500 ms, as usbsdmux waits 1 s). */
  powerOffMs?: number;
}

/**
 * A GPIO-switched SD mux, like resin's autohat rig: a select pin plus an optional card-power pin.
 * Also the driver of the virtual rig's mux (over a simulated chip, see rig/sim/virtual-mux.ts).
 */
export class GpioMux extends SdMuxBase {
  readonly #opts: GpioMuxOptions;
  #select: GpioLine | undefined;
  #power: GpioLine | undefined;
  #last: MuxState = 'unknown';

  constructor(opts: GpioMuxOptions) {
    super(opts);
    this.#opts = opts;
  }

  get what(): string {
    const p = this.#opts.power ? `, power line ${this.#opts.power.line}` : '';
    return `gpio-mux ${this.#opts.chip.name} select line ${this.#opts.select.line}${p}`;
  }

  #level(side: 'host' | 'board'): Level {
    const host = this.#opts.select.hostLevel ?? 1;
    return side === 'host' ? host : host === 1 ? 0 : 1;
  }

  #powerLevel(on: boolean): Level {
    const active: Level = this.#opts.power?.activeLow ? 0 : 1;
    return on ? active : active === 1 ? 0 : 1;
  }

  async #setSelect(level: Level): Promise<void> {
    if (!this.#select) this.#select = await this.#opts.chip.claim(this.#opts.select.line, 'out', level);
    else await this.#select.write(level);
  }

  async #setPower(on: boolean): Promise<void> {
    if (!this.#opts.power) return;
    const level = this.#powerLevel(on);
    if (!this.#power) this.#power = await this.#opts.chip.claim(this.#opts.power.line, 'out', level);
    else await this.#power.write(level);
  }

  protected async switchTo(mode: 'host' | 'board' | 'off', signal?: AbortSignal): Promise<void> {
    try {
      await this.#setPower(false);
      if (this.#opts.power) await settle(this.#opts.powerOffMs ?? 500, signal);
      if (mode === 'off' && !this.#opts.power) {
        // Without a power pin the card cannot be cut: leave it on the board side, away from the host.
        await this.#setSelect(this.#level('board'));
      } else if (mode !== 'off') {
        await this.#setSelect(this.#level(mode));
        await this.#setPower(true);
      }
    } catch (err) {
      throw new InfraError(
        `mux ${this.what} (${this.name}): cannot switch to ${mode}: ${(err as Error).message}`,
        {
          device: this.what,
        },
        { cause: err },
      );
    }
    this.#last = mode;
  }

  async state(): Promise<MuxState> {
    if (!this.#select) return this.#last;
    // Without a power pin, off and board look the same on the wire: trust what we did.
    if (!this.#power && this.#last === 'off') return 'off';
    if (this.#power && (await this.#power.read()) !== this.#powerLevel(true)) return 'off';
    return (await this.#select.read()) === this.#level('host') ? 'host' : 'board';
  }

  override async close(): Promise<void> {
    await this.#select?.release();
    await this.#power?.release();
    this.#select = this.#power = undefined;
  }
}

export interface GpioMuxSpec {
  driver: 'gpio-mux';
  gpio?: GpioDriverName;
  chip: string;
  select: number;
  hostLevel?: 0 | 1;
  cardPower?: { line: number; activeLow?: boolean };
  device: string;
  timeoutMs?: number;
}

/** The lines of a GPIO-switched mux, at the level that leaves the card on the board side, powered. */
export function muxLines(
  spec: { select: number; hostLevel?: 0 | 1; cardPower?: { line: number; activeLow?: boolean } },
  chip: string,
  driver: string | undefined,
): GpioLineUse[] {
  const host = spec.hostLevel ?? 1;
  const lines: GpioLineUse[] = [
    { chip, driver, line: spec.select, level: host === 1 ? 0 : 1, role: 'mux select' },
  ];
  if (spec.cardPower) {
    const level = spec.cardPower.activeLow ? 0 : 1;
    lines.push({ chip, driver, line: spec.cardPower.line, level, role: 'card power' });
  }
  return lines;
}

export const driver: MuxDriver<GpioMuxSpec> = {
  name: 'gpio-mux',
  label: 'a GPIO-switched SD mux (select pin, optional card power pin), autohat style',
  schema: {
    required: ['chip', 'select', 'device'],
    properties: {
      device: KEY.blockDevice,
      gpio: KEY.gpio,
      chip: KEY.chip,
      select: KEY.line,
      hostLevel: KEY.hostLevel,
      cardPower: {
        type: 'object',
        additionalProperties: false,
        required: ['line'],
        properties: { line: KEY.line, activeLow: KEY.activeLow },
      },
      timeoutMs: KEY.ms,
    },
  },
  tools: (spec) => [...gpioDriver(spec.gpio).tools],
  gpioLines: (spec) => muxLines(spec, spec.chip, spec.gpio),
  create: (spec, ctx) =>
    new GpioMux({
      name: ctx.name,
      beforeSwitch: ctx.beforeSwitch,
      deviceTimeoutMs: spec.timeoutMs,
      hostDevice: spec.device,
      chip: openGpioChip({ driver: spec.gpio, chip: spec.chip }, { spawner: ctx.spawner }),
      select: { line: spec.select, hostLevel: spec.hostLevel },
      power: spec.cardPower,
    }),
};
