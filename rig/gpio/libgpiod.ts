import { InfraError } from '../errors.js';
import { logger } from '../log.js';
import { realSpawner, type ProcessHandle, type RunResult, type Spawner } from '../util/spawn.js';
import type { GpioDriver } from './driver.js';
import type { GpioChip, GpioLine, Level } from './gpio.js';

const log = logger('gpio:libgpiod');

/**
 * GPIO through the character device with libgpiod's tools, for kernels without sysfs GPIO.
 *
 * The two major versions differ (brgl/libgpiod tools/gpioget.c, tools/gpioset.c):
 * - v1: `gpioget CHIP OFFSET` prints `1`; `gpioset CHIP OFFSET=V` sets and exits.
 *   Errors: `gpioset: error setting the GPIO line values: Device or resource busy`.
 * - v2: `gpioget --numeric -c CHIP OFFSET` prints `1` (without --numeric: `"17"=active`);
 *   `gpioset -c CHIP OFFSET=V` keeps the line requested until it exits ("by default gpioset does
 *   not exit"), so a relay is held by a long-running gpioset that we replace on each write.
 *   Errors: `gpioset: unable to request lines: Device or resource busy`,
 *   `gpioget: offset 99 is out of range on chip 'gpiochip0'`, `gpioget: cannot find line '17'`.
 * `--version` prints `gpioget (libgpiod) v1.6.3` or `gpioget (libgpiod) v2.1.3`.
 */
export type GpiodVersion = 1 | 2;

export interface LibgpiodOptions {
  spawner?: Spawner;
  /** Skip detection (tests, or a host that pins one version). */
  version?: GpiodVersion;
  /** How long a v2 gpioset may take to print its banner. */
  timeoutMs?: number;
}

export function parseGpiodVersion(out: string): GpiodVersion | undefined {
  const m = /\(libgpiod\) v(\d+)\./.exec(out);
  if (!m) return undefined;
  return m[1] === '1' ? 1 : 2;
}

export function parseGpiogetValue(stdout: string): Level | undefined {
  const t = stdout.trim();
  if (t === '1' || /=active$/.test(t)) return 1;
  if (t === '0' || /=inactive$/.test(t)) return 0;
  return undefined;
}

function toolError(res: RunResult, what: string): InfraError {
  const why = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-2).join(' | ');
  return new InfraError(`${what}: ${why || `exit ${res.code ?? res.signal}`}`, {
    command: res.command,
    code: res.code,
    stderr: res.stderr,
  });
}

export class LibgpiodChip implements GpioChip {
  readonly #spawner: Spawner;
  #version: GpiodVersion | undefined;

  constructor(
    readonly name: string,
    private readonly opts: LibgpiodOptions = {},
  ) {
    this.#spawner = opts.spawner ?? realSpawner;
    this.#version = opts.version;
  }

  async version(): Promise<GpiodVersion> {
    if (this.#version) return this.#version;
    const res = await this.#spawner.run('gpioget', ['--version'], { timeoutMs: 5000 });
    const v = parseGpiodVersion(res.stdout + res.stderr);
    if (!v) throw toolError(res, `gpioget --version: cannot tell the libgpiod version`);
    this.#version = v;
    return v;
  }

  async read(offset: number): Promise<Level> {
    const v = await this.version();
    const args = v === 1 ? [this.name, String(offset)] : ['--numeric', '-c', this.name, String(offset)];
    const res = await this.#spawner.run('gpioget', args, { timeoutMs: this.opts.timeoutMs ?? 5000 });
    const what = `GPIO ${this.name} line ${offset}: gpioget`;
    if (res.code !== 0) throw toolError(res, what);
    const level = parseGpiogetValue(res.stdout);
    if (level === undefined)
      throw new InfraError(`${what}: unexpected output "${res.stdout.trim()}"`, { command: res.command });
    return level;
  }

  /** v1: one gpioset that exits. v2: a gpioset that holds the line, confirmed by its banner. */
  async set(
    offset: number,
    value: Level,
    previous: ProcessHandle | undefined,
  ): Promise<ProcessHandle | undefined> {
    const v = await this.version();
    const what = `GPIO ${this.name} line ${offset}: gpioset`;
    if (v === 1) {
      const res = await this.#spawner.run('gpioset', [this.name, `${offset}=${value}`], {
        timeoutMs: this.opts.timeoutMs ?? 5000,
      });
      if (res.code !== 0) throw toolError(res, what);
      return undefined;
    }
    // The old holder must let go before a new request for the same line can succeed.
    await previous?.stop(1000);
    const handle = this.#spawner.start('gpioset', ['--banner', '-c', this.name, `${offset}=${value}`]);
    await waitForBanner(handle, what, this.opts.timeoutMs ?? 5000);
    return handle;
  }

  async claim(offset: number, direction: 'in' | 'out', initial?: Level): Promise<GpioLine> {
    let holder: ProcessHandle | undefined;
    let released = false;
    if (direction === 'in') await this.read(offset);
    else if (initial !== undefined) holder = await this.set(offset, initial, undefined);
    log('claimed %s line %d (%s)', this.name, offset, direction);
    return {
      chip: this.name,
      offset,
      write: async (value) => {
        if (released) throw new InfraError(`GPIO ${this.name} line ${offset}: written after release`);
        holder = await this.set(offset, value, holder);
      },
      read: () => this.read(offset),
      release: async () => {
        released = true;
        // A v2 line is free once its gpioset exits; its level is then up to the driver.
        await holder?.stop(1000);
        holder = undefined;
      },
    };
  }
}

function waitForBanner(handle: ProcessHandle, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const done = (e?: Error) => {
      clearTimeout(timer);
      handle.stdout?.off('data', onOut);
      handle.stderr?.off('data', onErr);
      if (e) reject(e);
      else resolve();
    };
    const onOut = (b: Buffer) => {
      out += b.toString();
      if (/Setting line/.test(out)) done();
    };
    const onErr = (b: Buffer) => {
      err += b.toString();
    };
    handle.stdout?.on('data', onOut);
    handle.stderr?.on('data', onErr);
    const timer = setTimeout(() => {
      handle.kill('SIGKILL');
      done(
        new InfraError(`${what}: no answer within ${timeoutMs} ms`, { command: handle.command, stderr: err }),
      );
    }, timeoutMs);
    void handle.exited.then(({ code }) => {
      const why = err.trim().split('\n').slice(-2).join(' | ');
      done(
        new InfraError(`${what}: ${why || `exited with ${code}`}`, {
          command: handle.command,
          code,
          stderr: err,
        }),
      );
    });
  });
}

/** The character-device GPIO driver (`gpio: libgpiod`: kernels without sysfs GPIO). */
export const driver: GpioDriver<'libgpiod'> = {
  name: 'libgpiod',
  label: "the GPIO character device through libgpiod's tools (v1 or v2)",
  tools: [
    { name: 'gpioget', install: 'apt-get install gpiod' },
    { name: 'gpioset', install: 'apt-get install gpiod' },
  ],
  open: (chip, opts) => new LibgpiodChip(chip, { spawner: opts.spawner }),
};
