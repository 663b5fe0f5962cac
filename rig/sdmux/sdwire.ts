import { InfraError } from '../errors.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import { SdMuxBase, type MuxCommon } from './mux-base.js';
import type { MuxState } from './sd-mux.js';
import { KEY } from '../catalog/drivers.js';
import type { MuxDriver } from './driver.js';

export interface SdWireOptions extends MuxCommon {
  /** The serial written into the SDWire's FTDI EEPROM (`sd-mux-ctrl --list` shows it), e.g. `sd-wire_11`. */
  serial: string;
  spawner?: Spawner;
  timeoutMs?: number;
}

/**
 * SDWire through tizen's `sd-mux-ctrl --device-serial S --ts|--dut|--status`
 * (git.tizen.org tools/testlab/sd-mux src/main.cpp; usage in Dasharo docs sd-wire/usage-validation.md):
 * - `--status` prints `SD connected to: TS` or `SD connected to: DUT` (some forks: `Host`/`RPI`).
 * - No such device: `Unable to open ftdi device: -3 (device not found)` on stderr, exit 1.
 * The SDWire has no "off": `off` hands the card to the board, which removes it from the host.
 */
export class SdWire extends SdMuxBase {
  readonly #opts: SdWireOptions;
  readonly #spawner: Spawner;

  constructor(opts: SdWireOptions) {
    super(opts);
    this.#opts = opts;
    this.#spawner = opts.spawner ?? realSpawner;
  }

  get what(): string {
    return `sd-mux-ctrl ${this.#opts.serial}`;
  }

  async #run(flag: string, signal?: AbortSignal): Promise<string> {
    const res = await this.#spawner.run('sd-mux-ctrl', ['--device-serial', this.#opts.serial, flag], {
      timeoutMs: this.#opts.timeoutMs ?? 15_000,
      signal,
    });
    if (res.code !== 0) {
      // sd-mux-ctrl prints diagnostics to stderr; the last line is the reason.
      const why = res.stderr.trim().split('\n').pop() || res.stdout.trim();
      throw new InfraError(
        `mux SDWire ${this.#opts.serial} (${this.name}): ${flag} failed: ${why || `exit ${res.code ?? res.signal}`}`,
        {
          device: this.#opts.serial,
          command: res.command,
          stderr: res.stderr,
        },
      );
    }
    return res.stdout;
  }

  protected async switchTo(mode: 'host' | 'board' | 'off', signal?: AbortSignal): Promise<void> {
    await this.#run(mode === 'host' ? '--ts' : '--dut', signal);
  }

  async state(): Promise<MuxState> {
    const out = await this.#run('--status');
    const m = /SD connected to: (\w+)/.exec(out);
    const who = m?.[1]?.toUpperCase();
    if (who === 'TS' || who === 'HOST') return 'host';
    if (who === 'DUT' || who === 'RPI') return 'board';
    throw new InfraError(
      `mux SDWire ${this.#opts.serial} (${this.name}): unexpected status "${out.trim()}"`,
      {
        device: this.#opts.serial,
        actual: out.trim(),
      },
    );
  }
}

export interface SdWireSpec {
  driver: 'sdwire';
  serial: string;
  device: string;
  timeoutMs?: number;
}

export const driver: MuxDriver<SdWireSpec> = {
  name: 'sdwire',
  label: "SDWire, through tizen's sd-mux-ctrl",
  schema: {
    required: ['serial', 'device'],
    properties: {
      device: KEY.blockDevice,
      serial: { type: 'string', description: 'sdwire: the serial sd-mux-ctrl --list shows' },
      timeoutMs: KEY.ms,
    },
  },
  tools: () => [{ name: 'sd-mux-ctrl', install: 'build it from git.tizen.org tools/testlab/sd-mux' }],
  subject: (spec) => `sdwire ${spec.serial}`,
  create: (spec, ctx) =>
    new SdWire({
      name: ctx.name,
      beforeSwitch: ctx.beforeSwitch,
      deviceTimeoutMs: spec.timeoutMs,
      hostDevice: spec.device,
      serial: spec.serial,
      spawner: ctx.spawner,
    }),
};
