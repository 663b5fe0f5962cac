import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InfraError } from '../errors.js';
import { logger } from '../log.js';
import type { Level } from '../gpio/gpio.js';
import type { SimGpioChip } from './gpio-chip.js';
import { GpioMux, type GpioMuxOptions } from '../sdmux/gpio-mux.js';
import { KEY } from '../catalog/drivers.js';
import type { MuxDriver } from '../sdmux/driver.js';
import { muxLines } from '../sdmux/gpio-mux.js';
import { SIM_CHIP } from './gpio-chip.js';

const log = logger('sdmux:virtual');

export interface VirtualMuxOptions extends Omit<GpioMuxOptions, 'chip' | 'hostDevice' | 'power'> {
  chip: SimGpioChip;
  /** The board's "SD card": a disk image file. */
  image: string;
  /** Where the card shows up on the host side while the mux is on the host (a symlink to the image). */
  hostLink: string;
  /** True while the board (QEMU) runs: the card must not go to the host under a running board. */
  boardRunning?: () => boolean;
}

/**
 * The simulated hardware behind the virtual mux: it watches the select line of a simulated GPIO
 * chip, and makes the disk image appear on the host side (a symlink, the "block device") or
 * vanish from it, as a real mux's card reader enumerates and disappears.
 */
export class VirtualMuxCard {
  #dispose: () => void;

  constructor(private readonly opts: VirtualMuxOptions) {
    const hostLevel: Level = opts.select.hostLevel ?? 1;
    this.#dispose = opts.chip.onChange(opts.select.line, (value) =>
      this.#onSelect(value === hostLevel ? 'host' : 'board'),
    );
  }

  async #onSelect(side: 'host' | 'board'): Promise<void> {
    const { hostLink, image } = this.opts;
    if (side === 'host') {
      if (this.opts.boardRunning?.()) {
        throw new InfraError(
          `virtual mux: the board is running; power it off before switching ${image} to the host`,
          {
            device: image,
          },
        );
      }
      await fsp.mkdir(path.dirname(hostLink), { recursive: true });
      // A blank card is still a card: the flasher must find a file behind the link.
      await (await fsp.open(image, 'a')).close();
      await fsp.rm(hostLink, { force: true });
      await fsp.symlink(path.resolve(image), hostLink);
      log('%s -> host (%s)', image, hostLink);
    } else {
      await fsp.rm(hostLink, { force: true });
      log('%s -> board', image);
    }
  }

  /** The card is on the board side (the select line released counts: a mux's default is the board). */
  onBoardSide(): boolean {
    const { chip, select } = this.opts;
    return !(chip.isClaimed(select.line) && chip.level(select.line) === (select.hostLevel ?? 1));
  }

  /** The image QEMU may open: only while the card is on the board side. */
  imageForBoard(): Promise<string> {
    const { chip, select, image } = this.opts;
    if (chip.isClaimed(select.line) && chip.level(select.line) === (select.hostLevel ?? 1)) {
      return Promise.reject(
        new InfraError(
          `virtual mux: ${image} is on the host side; switch the mux to the board before power on`,
          { device: image },
        ),
      );
    }
    return Promise.resolve(image);
  }

  async dispose(): Promise<void> {
    this.#dispose();
    await fsp.rm(this.opts.hostLink, { force: true });
  }
}

/**
 * A virtual SD mux for QEMU boards: the real GPIO mux driver over a simulated chip, with the
 * simulated card behind it. `hostDevice` is the host link, which exists only in the host state.
 */
export function createVirtualMux(opts: VirtualMuxOptions): { mux: GpioMux; card: VirtualMuxCard } {
  const card = new VirtualMuxCard(opts);
  const mux = new GpioMux({ ...opts, chip: opts.chip, hostDevice: opts.hostLink });
  return { mux, card };
}

export interface VirtualMuxSpec {
  driver: 'virtual-mux';
  chip?: string;
  select: number;
  hostLevel?: 0 | 1;
  image?: string;
  timeoutMs?: number;
}

/** The virtual rig's mux: made with the simulated board by the sim-gpio-relay (./virtual-rig.ts). */
export const driver: MuxDriver<VirtualMuxSpec> = {
  name: 'virtual-mux',
  label: "the virtual rig's SD mux: a disk image handed to the host or to a QEMU board",
  schema: {
    required: ['select'],
    properties: {
      chip: KEY.chip,
      select: KEY.line,
      hostLevel: KEY.hostLevel,
      image: {
        type: 'string',
        description: 'virtual-mux: the disk image (default under ~/.cache/hw-test/rig/)',
      },
      timeoutMs: KEY.ms,
    },
  },
  check: (w) =>
    w.power.driver === 'sim-gpio-relay'
      ? undefined
      : { field: 'mux.driver', text: 'mux: a virtual-mux needs the sim-gpio-relay power driver' },
  gpioLines: (spec) => muxLines(spec, spec.chip ?? SIM_CHIP, 'sim'),
};
