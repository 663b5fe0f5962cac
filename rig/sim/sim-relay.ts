import { KEY } from '../catalog/drivers.js';
import type { PowerDriver } from '../power/driver.js';
import { relayLine } from '../power/gpio-relay.js';
import { qemuConsole } from '../power/qemu-power.js';
import { SIM_CHIP } from './gpio-chip.js';

export interface SimRelaySpec {
  driver: 'sim-gpio-relay';
  chip?: string;
  line: number;
  activeLow?: boolean;
  offTimeMs?: number;
  settleMs?: number;
}

/**
 * The virtual rig's relay: the real relay driver on a simulated chip whose line powers a QEMU
 * board; with a virtual-mux it is a whole simulated board (./virtual-rig.ts).
 */
export const driver: PowerDriver<SimRelaySpec, 'simulated-board'> = {
  kind: 'simulated-board',
  name: 'sim-gpio-relay',
  label: "the virtual rig's relay: a simulated GPIO line that powers a QEMU board",
  schema: {
    required: ['line'],
    properties: {
      chip: KEY.chip,
      line: KEY.line,
      activeLow: KEY.activeLow,
      offTimeMs: KEY.ms,
      settleMs: KEY.ms,
    },
  },
  check: qemuConsole,
  gpioLines: (spec) => [relayLine(spec, spec.chip ?? SIM_CHIP, 'sim')],
};
