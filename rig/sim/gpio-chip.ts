import { InfraError } from '../errors.js';
import { logger } from '../log.js';
import type { GpioDriver } from '../gpio/driver.js';
import type { GpioChip, GpioLine, Level } from '../gpio/gpio.js';

const log = logger('gpio:sim');

/** One write the simulated chip was told, in order: what a relay or a mux select pin saw. */
export interface SimWrite {
  chip: string;
  offset: number;
  value: Level;
  /** ms since the chip was created (monotonic) */
  t: number;
  /** wall clock, ISO 8601 */
  at: string;
}

/** Reacts to a line's new level; may be async (the virtual relay starts QEMU). */
export type SimListener = (value: Level, offset: number) => void | Promise<void>;

interface SimLineState {
  value: Level;
  direction: 'in' | 'out';
  claimed: boolean;
  /** Scripted failure: claiming throws as the kernel does for a line held by a driver. */
  busyReason?: string;
  /** Scripted fault: writes are accepted but the level does not change (a dead relay driver). */
  stuck?: boolean;
}

/**
 * A simulated GPIO chip: product code, not test code (the virtual rig is built from it).
 * Scriptable state (`setInput`, `setBusy`, `setStuck`), every write recorded with a timestamp,
 * and listeners that react to a line change, so a virtual relay can power QEMU on and off.
 */
export class SimGpioChip implements GpioChip {
  readonly writes: SimWrite[] = [];
  readonly #lines = new Map<number, SimLineState>();
  readonly #listeners = new Map<number, Set<SimListener>>();
  readonly #t0 = performance.now();

  constructor(
    readonly name = 'sim-gpiochip0',
    readonly lineCount = 64,
  ) {}

  #line(offset: number): SimLineState {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.lineCount) {
      throw new InfraError(
        `${this.name}: line ${offset} does not exist (the chip has ${this.lineCount} lines)`,
        {
          device: this.name,
          line: offset,
        },
      );
    }
    let l = this.#lines.get(offset);
    if (!l) {
      l = { value: 0, direction: 'in', claimed: false };
      this.#lines.set(offset, l);
    }
    return l;
  }

  async claim(offset: number, direction: 'in' | 'out', initial?: Level): Promise<GpioLine> {
    const l = this.#line(offset);
    if (l.busyReason || l.claimed) {
      throw new InfraError(
        `${this.name}: line ${offset} is busy (${l.busyReason ?? 'claimed by another user'})`,
        {
          device: this.name,
          line: offset,
        },
      );
    }
    l.claimed = true;
    l.direction = direction;
    const line = new SimLine(this, offset);
    if (direction === 'out' && initial !== undefined) {
      try {
        await line.write(initial);
      } catch (err) {
        l.claimed = false;
        throw err;
      }
    }
    return line;
  }

  /** Registers a listener for a line's level changes; returns a function that removes it. */
  onChange(offset: number, listener: SimListener): () => void {
    let set = this.#listeners.get(offset);
    if (!set) this.#listeners.set(offset, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** The line's current electrical level. */
  level(offset: number): Level {
    return this.#line(offset).value;
  }

  isClaimed(offset: number): boolean {
    return this.#line(offset).claimed;
  }

  /** Drives an input line from outside (a button, a sense pin). */
  setInput(offset: number, value: Level): void {
    this.#line(offset).value = value;
  }

  /** Makes a line busy, as a line held by a kernel driver; `undefined` frees it. */
  setBusy(offset: number, reason: string | undefined = 'used by a kernel driver'): void {
    this.#line(offset).busyReason = reason;
  }

  /** A stuck line accepts writes but keeps its level: a relay driver that does not answer. */
  setStuck(offset: number, stuck = true): void {
    this.#line(offset).stuck = stuck;
  }

  /** @internal */
  async _write(offset: number, value: Level): Promise<void> {
    const l = this.#line(offset);
    if (!l.claimed)
      throw new InfraError(`${this.name}: line ${offset} written after release`, { device: this.name });
    if (l.direction !== 'out')
      throw new InfraError(`${this.name}: line ${offset} is an input`, { device: this.name });
    const t = performance.now() - this.#t0;
    this.writes.push({ chip: this.name, offset, value, t, at: new Date().toISOString() });
    log('%s line %d <- %d', this.name, offset, value);
    if (l.stuck) return;
    const changed = l.value !== value;
    l.value = value;
    if (!changed) return;
    for (const listener of [...(this.#listeners.get(offset) ?? [])]) await listener(value, offset);
  }

  /** @internal */
  _release(offset: number): void {
    this.#line(offset).claimed = false;
  }
}

class SimLine implements GpioLine {
  #released = false;

  constructor(
    private readonly sim: SimGpioChip,
    readonly offset: number,
  ) {}

  get chip(): string {
    return this.sim.name;
  }

  write(value: Level): Promise<void> {
    if (this.#released)
      return Promise.reject(new InfraError(`${this.chip}: line ${this.offset} written after release`));
    return this.sim._write(this.offset, value);
  }

  read(): Promise<Level> {
    return Promise.resolve(this.sim.level(this.offset));
  }

  release(): Promise<void> {
    if (!this.#released) this.sim._release(this.offset);
    this.#released = true;
    return Promise.resolve();
  }
}

/** The simulated chip's name when the lab file names none. */
export const SIM_CHIP = 'sim-gpiochip0';

/** Simulated chips by name, so a lab file's `chip: sim-gpiochip0` finds the one the virtual rig wired. */
const registry = new Map<string, SimGpioChip>();

export function simChip(name = SIM_CHIP): SimGpioChip {
  let chip = registry.get(name);
  if (!chip) registry.set(name, (chip = new SimGpioChip(name)));
  return chip;
}

/** Forgets a simulated chip (tests, or a virtual rig released). */
export function dropSimChip(name: string): void {
  registry.delete(name);
}

/** The simulated GPIO driver (`gpio: sim`): chips by name, shared with the virtual rig. */
export const driver: GpioDriver<'sim'> = {
  name: 'sim',
  label: 'a simulated GPIO chip that records every write (the virtual rig)',
  tools: [],
  open: (chip) => simChip(chip),
};
