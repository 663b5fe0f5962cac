import { InfraError } from '../errors.js';
import { realSpawner, type RunResult, type Spawner } from '../util/spawn.js';
import type { PowerState } from './power-switch.js';
import { PowerSwitchBase, type PowerTiming } from './switch-base.js';
import { KEY } from '../catalog/drivers.js';
import type { PowerDriver } from './driver.js';

export interface UhubctlOptions extends PowerTiming {
  name: string;
  /** Hub location as uhubctl prints it, e.g. `1-1.2`. */
  location: string;
  port: number;
  spawner?: Spawner;
  timeoutMs?: number;
}

/**
 * A USB hub port's VBUS through `uhubctl -l LOCATION -p PORT -a on|off` (mvp/uhubctl uhubctl.c).
 * Its output, which we parse:
 *   Current status for hub 1-1.2 [2109:2817 VIA Labs, Inc. USB2.0 Hub, USB 2.10, 4 ports, ppps]
 *     Port 2: 0503 power highspeed enable connect [0bda:8153 Realtek ...]
 *   Sent power off request
 *   New status for hub 1-1.2 [...]
 *     Port 2: 0000 off
 * A location with no hub: `No compatible devices detected at location 1-9!` (stderr, exit 1).
 * A port the hub does not have: exit 0 but no `Port N:` line at all.
 */
export class UhubctlPower extends PowerSwitchBase {
  readonly #opts: UhubctlOptions;
  readonly #spawner: Spawner;

  constructor(opts: UhubctlOptions) {
    super(opts.name, opts);
    this.#opts = opts;
    this.#spawner = opts.spawner ?? realSpawner;
  }

  get what(): string {
    return `uhubctl hub ${this.#opts.location} port ${this.#opts.port}`;
  }

  async #run(args: string[], signal?: AbortSignal): Promise<RunResult> {
    const res = await this.#spawner.run(
      'uhubctl',
      ['-l', this.#opts.location, '-p', String(this.#opts.port), ...args],
      {
        timeoutMs: this.#opts.timeoutMs ?? 10_000,
        signal,
      },
    );
    if (res.code !== 0) {
      const why = (res.stderr.trim() || res.stdout.trim()).split('\n')[0] ?? '';
      throw new InfraError(`${this.what} (${this.name}): ${why || `exit ${res.code ?? res.signal}`}`, {
        device: this.what,
        command: res.command,
        stderr: res.stderr,
      });
    }
    return res;
  }

  protected async apply(state: 'on' | 'off', signal?: AbortSignal): Promise<void> {
    const res = await this.#run(['-a', state], signal);
    const seen = portState(res.stdout, this.#opts.port, 'New status');
    if (seen === undefined) throw this.#noPort(res);
    if (seen !== state) {
      throw new InfraError(
        `${this.what} (${this.name}) did not switch ${state}: the hub reports it ${seen}`,
        {
          device: this.what,
          expected: state,
          actual: seen,
        },
      );
    }
  }

  override async state(): Promise<PowerState> {
    const res = await this.#run([]);
    const seen = portState(res.stdout, this.#opts.port, 'Current status');
    if (seen === undefined) throw this.#noPort(res);
    return seen;
  }

  #noPort(res: RunResult): InfraError {
    const hub = /status for hub (\S+) \[([^\]]*)\]/.exec(res.stdout);
    const ports = hub ? /(\d+) ports/.exec(hub[2])?.[1] : undefined;
    return new InfraError(
      hub
        ? `${this.what} (${this.name}): hub ${hub[1]} has no port ${this.#opts.port}${ports ? ` (it has ${ports} ports)` : ''}`
        : `${this.what} (${this.name}): uhubctl printed no status for the port`,
      { device: this.what, command: res.command, stdout: res.stdout },
    );
  }
}

/** The port's power in the last block named `block` ("Current status" or "New status"). */
export function portState(
  stdout: string,
  port: number,
  block: 'Current status' | 'New status',
): 'on' | 'off' | undefined {
  const start = stdout.lastIndexOf(block);
  if (start < 0) return undefined;
  const m = new RegExp(`^\\s+Port ${port}: ([0-9a-f]{4})(.*)$`, 'm').exec(stdout.slice(start));
  if (!m) return undefined;
  return /\bpower\b/.test(m[2]) ? 'on' : 'off';
}

export interface UhubctlSpec {
  driver: 'uhubctl';
  location: string;
  port: number;
  offTimeMs?: number;
  settleMs?: number;
}

export const driver: PowerDriver<UhubctlSpec, 'switch'> = {
  kind: 'switch',
  name: 'uhubctl',
  label: "a USB hub port's power (VBUS), through uhubctl",
  schema: {
    required: ['location', 'port'],
    properties: {
      location: { type: 'string', pattern: '^[0-9]+-[0-9.]+$' },
      port: { type: 'integer', minimum: 1 },
      offTimeMs: KEY.ms,
      settleMs: KEY.ms,
    },
  },
  tools: () => [{ name: 'uhubctl', install: 'apt-get install uhubctl' }],
  subject: (spec) => `uhubctl ${spec.location} port ${spec.port}`,
  doctorProbe: () => 'query',
  create: (spec, ctx) => new UhubctlPower({ name: ctx.name, spawner: ctx.spawner, ...spec }),
};
