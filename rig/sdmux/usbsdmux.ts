import { InfraError } from '../errors.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import { SdMuxBase, type MuxCommon } from './mux-base.js';
import type { MuxState } from './sd-mux.js';
import { KEY } from '../catalog/drivers.js';
import type { MuxDriver } from './driver.js';

export interface UsbSdMuxOptions extends MuxCommon {
  /** The mux's SCSI generic device: `/dev/sg2`, or its udev link `/dev/usb-sd-mux/id-000000000123`. */
  sg: string;
  spawner?: Spawner;
  timeoutMs?: number;
}

/**
 * Linux Automation USB-SD-Mux through `usbsdmux SG host|dut|off|get`
 * (linux-automation/usbsdmux usbsdmux/__main__.py, usbsdmux.py):
 * - `get` prints `host`, `dut` or `off`; switching prints nothing and exits 0.
 * - A path that is no mux: `Could not determine type of USB-SD-Mux. Does
 *   /sys/class/scsi_generic/sg9/device/model exist?` then `Does /dev/sg9 really point to a
 *   USB-SD-Mux?` on stderr, exit 1. No access: `[Errno 13] Permission denied: '/dev/sg2'`.
 */
export class UsbSdMux extends SdMuxBase {
  readonly #opts: UsbSdMuxOptions;
  readonly #spawner: Spawner;

  constructor(opts: UsbSdMuxOptions) {
    super(opts);
    this.#opts = opts;
    this.#spawner = opts.spawner ?? realSpawner;
  }

  get what(): string {
    return `usbsdmux ${this.#opts.sg}`;
  }

  async #run(mode: string, signal?: AbortSignal): Promise<string> {
    const res = await this.#spawner.run('usbsdmux', [this.#opts.sg, mode], {
      timeoutMs: this.#opts.timeoutMs ?? 15_000,
      signal,
    });
    if (res.code !== 0) {
      const why = (res.stderr.trim() || res.stdout.trim()).split('\n').join(' ');
      throw new InfraError(
        `mux ${this.what} (${this.name}): ${mode} failed: ${why || `exit ${res.code ?? res.signal}`}`,
        {
          device: this.#opts.sg,
          command: res.command,
          stderr: res.stderr,
        },
      );
    }
    return res.stdout;
  }

  protected async switchTo(mode: 'host' | 'board' | 'off', signal?: AbortSignal): Promise<void> {
    await this.#run(mode === 'board' ? 'dut' : mode, signal);
  }

  async state(): Promise<MuxState> {
    const out = (await this.#run('get')).trim();
    if (out === 'host') return 'host';
    if (out === 'dut') return 'board';
    if (out === 'off') return 'off';
    throw new InfraError(`mux ${this.what} (${this.name}): get printed "${out}", expected host, dut or off`, {
      device: this.#opts.sg,
      actual: out,
    });
  }
}

export interface UsbSdMuxSpec {
  driver: 'usbsdmux';
  sg: string;
  device: string;
  timeoutMs?: number;
}

export const driver: MuxDriver<UsbSdMuxSpec> = {
  name: 'usbsdmux',
  label: 'Linux Automation USB-SD-Mux, through the usbsdmux tool',
  schema: {
    required: ['sg', 'device'],
    properties: {
      device: KEY.blockDevice,
      sg: { type: 'string', description: 'usbsdmux: /dev/sgN or /dev/usb-sd-mux/id-...' },
      timeoutMs: KEY.ms,
    },
  },
  tools: () => [{ name: 'usbsdmux', install: 'apt-get install usbsdmux' }],
  subject: (spec) => `usbsdmux ${spec.sg}`,
  create: (spec, ctx) =>
    new UsbSdMux({
      name: ctx.name,
      beforeSwitch: ctx.beforeSwitch,
      deviceTimeoutMs: spec.timeoutMs,
      hostDevice: spec.device,
      sg: spec.sg,
      spawner: ctx.spawner,
    }),
};
