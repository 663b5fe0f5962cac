/**
 * How a driver describes itself, in one place (its own file): the keys it takes in the lab file
 * (a JSON schema fragment), what it is, the tools it runs, what `hw-test doctor` checks, and how
 * it is made. Each capability has a registry of them (rig/power/registry.ts, rig/sdmux/registry.ts,
 * rig/gpio/registry.ts); the lab file's schema is composed from the registries at load time.
 */

/** A driver's keys under `power:` or `mux:` in the lab file; `driver` itself is added. */
export interface SchemaFragment {
  /** Each key's JSON schema, with a description. A key several drivers take must agree. */
  readonly properties: Readonly<Record<string, object>>;
  readonly required?: readonly string[];
}

/** An external program a driver runs, and how to get it (for `hw-test doctor`). */
export interface ToolNeed {
  readonly name: string;
  readonly install?: string;
}

/** A GPIO line a driver claims, at the level that is harmless (doctor claims it so). */
export interface GpioLineUse {
  readonly chip: string;
  /** The GPIO driver (`gpio:` in the lab file; default sysfs). */
  readonly driver?: string;
  readonly line: number;
  readonly level: 0 | 1;
  readonly role: string;
}

/** The lab file's entry for one board, as far as the drivers' own rules need it. */
export interface WiringView {
  readonly power: { readonly driver: string };
  readonly mux?: { readonly driver: string };
  readonly serial: { readonly device: string };
}

/** A rule the schema cannot say; `text` follows `boards.<name>.`, `field` is the key it names. */
export interface WiringProblem {
  readonly field: string;
  readonly text: string;
}

export interface DriverDescriptor<S extends { driver: string }> {
  readonly name: S['driver'];
  /** What it drives, for people: `Linux Automation USB-SD-Mux (usbsdmux tool)`. */
  readonly label: string;
  readonly schema: SchemaFragment;
  /** Cross-field rules of the lab file that involve this driver. */
  check?(wiring: WiringView): WiringProblem | undefined;
  /** The programs this instance's driver runs. */
  tools?(spec: S): ToolNeed[];
  /** The GPIO lines it claims (doctor checks each). */
  gpioLines?(spec: S): GpioLineUse[];
  /** Names the part on a doctor line (default: `<driver> <instance>`). */
  subject?(spec: S, instance: string): string;
}

/** Shared key schemas, so drivers that take the same key describe it the same way. */
export const KEY = {
  ms: { $ref: '#/definitions/ms' },
  argv: { $ref: '#/definitions/argv' },
  gpio: { $ref: '#/definitions/gpioDriver' },
  chip: { type: 'string' },
  line: { type: 'integer', minimum: 0 },
  activeLow: { type: 'boolean' },
  blockDevice: { type: 'string', description: 'host-side block device, /dev/disk/by-id/...' },
  hostLevel: { enum: [0, 1] },
} as const;

/** Unknown driver names: one line listing the known ones. */
export function unknownDriver(capability: string, name: string, known: readonly { name: string }[]): string {
  return `unknown ${capability} driver "${name}": known ${capability} drivers are ${known.map((d) => d.name).join(', ')}`;
}

type AnyDescriptor = { readonly name: string; readonly schema: SchemaFragment };

/**
 * One capability's definition (`power`, `mux`): `driver` one of the registry's names, the union
 * of the drivers' keys, and each driver's required keys. A key two drivers declare differently
 * is a programming error, caught by the tests.
 */
export function capabilitySchema(capability: string, drivers: readonly AnyDescriptor[]): object {
  const properties: Record<string, object> = { driver: { enum: drivers.map((d) => d.name) } };
  for (const d of drivers) {
    for (const [key, schema] of Object.entries(d.schema.properties)) {
      const had = properties[key];
      if (had && JSON.stringify(had) !== JSON.stringify(schema))
        throw new Error(`${capability} driver ${d.name}: key "${key}" differs from another driver's`);
      properties[key] = schema;
    }
  }
  return {
    type: 'object',
    additionalProperties: false,
    required: ['driver'],
    properties,
    allOf: drivers
      .filter((d) => d.schema.required?.length)
      .map((d) => ({
        if: { properties: { driver: { const: d.name } } },
        then: { required: d.schema.required },
      })),
  };
}
