/**
 * One GPIO line. Implementations: sysfs through onoff (`sysfs.ts`, with the chip base offset
 * resolved from /sys/class/gpio/gpiochipN/{base,label}), the character device through libgpiod's
 * tools (`libgpiod.ts`), and a simulated chip (`rig/sim/gpio-chip.ts`) that records every write.
 * Each driver's descriptor is listed in `registry.ts`.
 *
 * Contract: values are the *electrical* level (0 or 1); polarity is the caller's business (a relay
 * driver knows whether it is active-low). `claim` fails with an InfraError naming the chip and line
 * when the line is missing or busy. `release` is idempotent.
 */
export type Level = 0 | 1;

export interface GpioLine {
  readonly chip: string;
  readonly offset: number;
  write(value: Level): Promise<void>;
  read(): Promise<Level>;
  release(): Promise<void>;
}

export interface GpioChip {
  readonly name: string;
  claim(offset: number, direction: 'in' | 'out', initial?: Level): Promise<GpioLine>;
}
