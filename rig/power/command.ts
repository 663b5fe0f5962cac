import { InfraError, InterruptedError } from '../errors.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import type { PowerState } from './power-switch.js';
import { PowerSwitchBase, type PowerTiming } from './switch-base.js';
import { KEY } from '../catalog/drivers.js';
import type { PowerDriver } from './driver.js';

export interface CommandPowerOptions extends PowerTiming {
  name: string;
  /** argv run to switch on, e.g. ['snmpset', '-v1', '-c', 'private', 'pdu1', 'PowerNet-MIB::sPDUOutletCtl.3', 'i', '1'] */
  on: string[];
  off: string[];
  /** Optional argv whose output says `on` or `off` (a word, case-insensitive). */
  state?: string[];
  spawner?: Spawner;
  timeoutMs?: number;
}

/** Power through an external command pair: network PDUs, smart plugs, anything with a CLI. */
export class CommandPower extends PowerSwitchBase {
  readonly #opts: CommandPowerOptions;
  readonly #spawner: Spawner;

  constructor(opts: CommandPowerOptions) {
    super(opts.name, opts);
    if (opts.on.length === 0 || opts.off.length === 0) {
      throw new InfraError(`power ${opts.name}: the on and off commands must not be empty`);
    }
    this.#opts = opts;
    this.#spawner = opts.spawner ?? realSpawner;
  }

  async #run(argv: string[], what: string, signal?: AbortSignal): Promise<string> {
    const [cmd, ...args] = argv as [string, ...string[]];
    const timeoutMs = this.#opts.timeoutMs ?? 30_000;
    const res = await this.#spawner.run(cmd, args, { timeoutMs, signal });
    // Killed because the run was stopped: an interruption, not a power switch that timed out.
    if (res.code !== 0 && signal?.aborted) throw new InterruptedError();
    if (res.code !== 0) {
      const why = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-2).join(' | ');
      throw new InfraError(
        `power ${this.name}: ${what} command failed (${res.signal ? `killed by ${res.signal}, timeout ${timeoutMs} ms` : `exit ${res.code}`})${why ? `: ${why}` : ''}`,
        { device: this.name, command: res.command, stderr: res.stderr },
      );
    }
    return res.stdout;
  }

  protected async apply(state: 'on' | 'off', signal?: AbortSignal): Promise<void> {
    await this.#run(state === 'on' ? this.#opts.on : this.#opts.off, state, signal);
  }

  override async state(): Promise<PowerState> {
    if (!this.#opts.state) return this.last;
    const out = await this.#run(this.#opts.state, 'state');
    if (/\bon\b/i.test(out)) return 'on';
    if (/\boff\b/i.test(out)) return 'off';
    throw new InfraError(
      `power ${this.name}: state command printed neither on nor off: "${out.trim().slice(0, 80)}"`,
      {
        device: this.name,
      },
    );
  }
}

export interface CommandPowerSpec {
  driver: 'command';
  on: string[];
  off: string[];
  state?: string[];
  offTimeMs?: number;
  settleMs?: number;
}

export const driver: PowerDriver<CommandPowerSpec, 'switch'> = {
  kind: 'switch',
  name: 'command',
  label: 'an external command pair: network PDUs, smart plugs, anything with a CLI',
  schema: {
    required: ['on', 'off'],
    properties: { on: KEY.argv, off: KEY.argv, state: KEY.argv, offTimeMs: KEY.ms, settleMs: KEY.ms },
  },
  tools: (spec) =>
    [spec.on[0], spec.off[0], ...(spec.state ? [spec.state[0]] : [])].map((name) => ({ name })),
  doctorProbe: (spec) =>
    spec.state ? 'query' : { skip: 'no state command in the lab file; not switched by doctor' },
  create: (spec, ctx) => new CommandPower({ name: ctx.name, spawner: ctx.spawner, ...spec }),
};
