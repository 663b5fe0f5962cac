import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InfraError, InputError } from '../errors.js';
import { logger } from '../log.js';
import { settle } from '../util/abort.js';
import type { GpioDriver } from './driver.js';
import type { GpioChip, GpioLine, Level } from './gpio.js';

const log = logger('gpio:sysfs');

export const SYSFS_GPIO_ROOT = '/sys/class/gpio';

/** A sysfs chip as the kernel shows it: `gpiochipBASE/{base,label,ngpio}`. */
export interface SysfsChipInfo {
  dir: string;
  base: number;
  ngpio: number;
  label: string;
}

/** How one exported line is driven: plain file writes (any root), or onoff (the real /sys only). */
export interface SysfsLineIo {
  write(value: Level): Promise<void>;
  read(): Promise<Level>;
  release(): Promise<void>;
}

/** The file operations the driver uses; tests wrap them to play the kernel (export, EBUSY). */
export interface SysfsFs {
  readFile(p: string): Promise<string>;
  writeFile(p: string, data: string): Promise<void>;
  readdir(p: string): Promise<string[]>;
  access(p: string): Promise<void>;
}

export const nodeSysfsFs: SysfsFs = {
  readFile: (p) => fsp.readFile(p, 'utf8'),
  writeFile: (p, d) => fsp.writeFile(p, d),
  readdir: (p) => fsp.readdir(p),
  access: (p) => fsp.access(p),
};

export interface SysfsOptions {
  fs?: SysfsFs;
  /** The sysfs GPIO class directory; a temp dir in tests. */
  root?: string;
  /** `fs`: write the files ourselves; `onoff`: the onoff library (only on the real /sys path). */
  backend?: 'fs' | 'onoff';
  /** After `export`, udev may take a moment to fix the new files' permissions. */
  exportTimeoutMs?: number;
}

async function readTrim(fs: SysfsFs, file: string): Promise<string> {
  return (await fs.readFile(file)).trim();
}

/**
 * Lists the sysfs chips. Their directory is named after the *base* number, which is not the
 * character device's index: newer Raspberry Pi kernels number from 512 (gpiochip512 = gpiochip0).
 */
export async function listSysfsChips(
  root = SYSFS_GPIO_ROOT,
  fs: SysfsFs = nodeSysfsFs,
): Promise<SysfsChipInfo[]> {
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch (err) {
    throw new InfraError(
      `${root}: no sysfs GPIO interface (${(err as NodeJS.ErrnoException).code}); use driver libgpiod`,
      {
        device: root,
      },
    );
  }
  const chips: SysfsChipInfo[] = [];
  for (const n of names.filter((x) => /^gpiochip\d+$/.test(x)).sort()) {
    const dir = path.join(root, n);
    chips.push({
      dir,
      base: Number(await readTrim(fs, path.join(dir, 'base'))),
      ngpio: Number(await readTrim(fs, path.join(dir, 'ngpio'))),
      label: await readTrim(fs, path.join(dir, 'label')),
    });
  }
  return chips;
}

/**
 * Finds a chip by its label (`pinctrl-bcm2711`, the stable name), by its sysfs directory name, or
 * by its character-device name (`gpiochip0`, found under the sysfs chip's `device/`).
 */
export async function resolveSysfsChip(
  chip: string,
  root = SYSFS_GPIO_ROOT,
  fs: SysfsFs = nodeSysfsFs,
): Promise<SysfsChipInfo> {
  const chips = await listSysfsChips(root, fs);
  const byLabel = chips.find((c) => c.label === chip);
  if (byLabel) return byLabel;
  for (const c of chips) {
    if (path.basename(c.dir) === chip) {
      // gpiochip0 is also the char device name of the chip at base 512: prefer the char device meaning.
      const viaDevice = await findByDeviceName(fs, chips, chip);
      return viaDevice ?? c;
    }
  }
  const viaDevice = await findByDeviceName(fs, chips, chip);
  if (viaDevice) return viaDevice;
  const known = chips.map((c) => `${path.basename(c.dir)} (label ${c.label}, base ${c.base})`).join(', ');
  throw new InfraError(`GPIO chip "${chip}" not found under ${root}; chips are: ${known || 'none'}`, {
    device: chip,
  });
}

async function findByDeviceName(
  fs: SysfsFs,
  chips: SysfsChipInfo[],
  name: string,
): Promise<SysfsChipInfo | undefined> {
  for (const c of chips) {
    try {
      await fs.access(path.join(c.dir, 'device', name));
      return c;
    } catch {
      // not this one
    }
  }
  return undefined;
}

function mapErrno(err: unknown, what: string, ctx: Record<string, unknown>): InfraError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'EBUSY'
      ? 'busy: held by a kernel driver or another process'
      : code === 'EINVAL'
        ? 'the kernel refused the line number (invalid)'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied (run as root or add a udev rule for the gpio group)'
          : code === 'ENOENT'
            ? 'no such file (the line is not exported)'
            : (code ?? String(err));
  return new InfraError(`${what}: ${reason}`, { ...ctx, code }, { cause: err });
}

/** File-write backend: what the kernel ABI documents (Documentation/ABI/obsolete/sysfs-gpio). */
export async function openFsLine(
  root: string,
  gpio: number,
  direction: 'in' | 'out',
  initial: Level | undefined,
  opts: { exportTimeoutMs?: number; what: string; fs?: SysfsFs },
): Promise<SysfsLineIo> {
  const fs = opts.fs ?? nodeSysfsFs;
  const dir = path.join(root, `gpio${gpio}`);
  const ctx = { device: opts.what, gpio };
  let exportedHere = false;
  try {
    await fs.access(dir);
    log('%s already exported (a previous run left it)', dir);
  } catch {
    try {
      await fs.writeFile(path.join(root, 'export'), String(gpio));
      exportedHere = true;
    } catch (err) {
      throw mapErrno(err, `${opts.what}: cannot export GPIO ${gpio}`, ctx);
    }
  }
  const directionValue = direction === 'in' ? 'in' : initial === 1 ? 'high' : initial === 0 ? 'low' : 'out';
  const deadline = Date.now() + (opts.exportTimeoutMs ?? 2000);
  for (;;) {
    try {
      // `high`/`low` set the direction and the level at once: a relay never glitches on claim.
      await fs.writeFile(path.join(dir, 'direction'), directionValue);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'EACCES' || code === 'ENOENT') && Date.now() < deadline) {
        // udev fixes the permissions of a freshly exported line asynchronously: a documented settle.
        await settle(20);
        continue;
      }
      if (exportedHere) await fs.writeFile(path.join(root, 'unexport'), String(gpio)).catch(() => {});
      throw mapErrno(err, `${opts.what}: cannot set direction of GPIO ${gpio}`, ctx);
    }
  }
  const valueFile = path.join(dir, 'value');
  return {
    async write(value) {
      try {
        await fs.writeFile(valueFile, String(value));
      } catch (err) {
        throw mapErrno(err, `${opts.what}: cannot write GPIO ${gpio}`, ctx);
      }
    },
    async read() {
      try {
        return (await readTrim(fs, valueFile)) === '1' ? 1 : 0;
      } catch (err) {
        throw mapErrno(err, `${opts.what}: cannot read GPIO ${gpio}`, ctx);
      }
    },
    async release() {
      await fs.writeFile(path.join(root, 'unexport'), String(gpio)).catch((err: unknown) => {
        log('unexport %d: %s', gpio, String(err));
      });
    },
  };
}

/** onoff backend: the library the project standardises on for the real /sys/class/gpio. */
async function openOnoffLine(
  gpio: number,
  direction: 'in' | 'out',
  initial: Level | undefined,
  what: string,
): Promise<SysfsLineIo> {
  const { Gpio } = await import('onoff');
  const dir = direction === 'in' ? 'in' : initial === 1 ? 'high' : initial === 0 ? 'low' : 'out';
  let g: InstanceType<typeof Gpio>;
  try {
    g = new Gpio(gpio, dir);
  } catch (err) {
    throw mapErrno(err, `${what}: cannot claim GPIO ${gpio}`, { device: what, gpio });
  }
  return {
    async write(value) {
      try {
        await g.write(value);
      } catch (err) {
        throw mapErrno(err, `${what}: cannot write GPIO ${gpio}`, { device: what, gpio });
      }
    },
    async read() {
      try {
        return await g.read();
      } catch (err) {
        throw mapErrno(err, `${what}: cannot read GPIO ${gpio}`, { device: what, gpio });
      }
    },
    release() {
      g.unexport();
      return Promise.resolve();
    },
  };
}

/** A GPIO chip through /sys/class/gpio, the line number offset by the chip's base. */
export class SysfsGpioChip implements GpioChip {
  readonly #root: string;
  readonly #backend: 'fs' | 'onoff';

  constructor(
    readonly name: string,
    private readonly opts: SysfsOptions = {},
  ) {
    this.#root = opts.root ?? SYSFS_GPIO_ROOT;
    this.#backend = opts.backend ?? (this.#root === SYSFS_GPIO_ROOT ? 'onoff' : 'fs');
    if (this.#backend === 'onoff' && this.#root !== SYSFS_GPIO_ROOT) {
      throw new InputError(
        `GPIO chip ${name}: the onoff backend only works on ${SYSFS_GPIO_ROOT}, not ${this.#root}`,
      );
    }
  }

  /** The global sysfs number of a line: the chip's base plus the offset. */
  async lineNumber(offset: number): Promise<{ gpio: number; info: SysfsChipInfo }> {
    const info = await resolveSysfsChip(this.name, this.#root, this.opts.fs);
    if (!Number.isInteger(offset) || offset < 0 || offset >= info.ngpio) {
      throw new InfraError(
        `GPIO chip ${this.name} (${info.label}): line ${offset} out of range 0..${info.ngpio - 1}`,
        {
          device: this.name,
          line: offset,
        },
      );
    }
    return { gpio: info.base + offset, info };
  }

  async claim(offset: number, direction: 'in' | 'out', initial?: Level): Promise<GpioLine> {
    const { gpio, info } = await this.lineNumber(offset);
    const what = `GPIO chip ${this.name} (${info.label}, base ${info.base}) line ${offset}`;
    log('claim %s as sysfs gpio%d (%s)', what, gpio, this.#backend);
    const io =
      this.#backend === 'onoff'
        ? await openOnoffLine(gpio, direction, initial, what)
        : await openFsLine(this.#root, gpio, direction, initial, {
            exportTimeoutMs: this.opts.exportTimeoutMs,
            what,
            fs: this.opts.fs,
          });
    let released = false;
    return {
      chip: this.name,
      offset,
      write: (v) => io.write(v),
      read: () => io.read(),
      release: async () => {
        if (released) return;
        released = true;
        await io.release();
      },
    };
  }
}

/** The sysfs GPIO driver (`gpio: sysfs`, the default on real rigs). */
export const driver: GpioDriver<'sysfs'> = {
  name: 'sysfs',
  label: '/sys/class/gpio through onoff (the chip base offset resolved from its label)',
  tools: [],
  open: (chip, opts) => new SysfsGpioChip(chip, { root: opts.sysfsRoot }),
};
