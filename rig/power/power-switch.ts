/**
 * A board's power. Implementations: GPIO relay (`gpio-relay.ts`), USB hub port (`uhubctl.ts`),
 * an external command pair (`command.ts`), and QEMU (`qemu-power.ts`).
 *
 * Contract:
 * - `on`/`off` are idempotent and resolve once the switch has acted (including any documented
 *   settle time of the hardware). A switch that does not answer throws an `InfraError` naming it.
 * - `cycle` is off, wait `offTimeMs` (so capacitors drain), on.
 * - `state` reports what the switch was last told, or what the hardware reads back where it can.
 * - `close` releases the underlying resource (GPIO line, process); it does not change the power.
 */
export type PowerState = 'on' | 'off' | 'unknown';

export interface PowerSwitch {
  readonly name: string;
  on(signal?: AbortSignal): Promise<void>;
  off(signal?: AbortSignal): Promise<void>;
  cycle(signal?: AbortSignal): Promise<void>;
  state(): Promise<PowerState>;
  close(): Promise<void>;
}
