import type { SchemaFragment } from '../catalog/drivers.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import type { CliCommand, CliIo } from './io.js';

const OPTIONS = [
  {
    name: 'schema',
    description: "print the lab file's whole JSON schema (for an editor), composed from the drivers",
  },
] as const satisfies OptionTable;

const USAGE = helpText({
  synopsis: 'Usage: hw-test drivers [--schema]',
  intro: `Lists the drivers a lab file can name, by capability, each with its keys (* required).
Each driver describes itself in its own file (rig/power, rig/sdmux, rig/gpio); see docs/wiring.md.`,
  options: OPTIONS,
});

function keys(schema: SchemaFragment): string {
  const required = new Set(schema.required ?? []);
  return Object.keys(schema.properties)
    .map((k) => (required.has(k) ? `${k}*` : k))
    .join(', ');
}

async function main(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions('drivers', argv, OPTIONS);
  const { labSchema } = await import('../catalog/lab.js');
  if (values.schema) {
    io.out(JSON.stringify(labSchema(), null, 2));
    return 0;
  }
  const { POWER_DRIVERS } = await import('../power/registry.js');
  const { MUX_DRIVERS } = await import('../sdmux/registry.js');
  const { GPIO_DRIVERS } = await import('../gpio/registry.js');
  const sections: [string, { name: string; label: string; schema?: SchemaFragment }[]][] = [
    ['power.driver', [...POWER_DRIVERS]],
    ['mux.driver', [...MUX_DRIVERS]],
    ['gpio (of gpio-relay, gpio-mux)', [...GPIO_DRIVERS]],
  ];
  for (const [title, drivers] of sections) {
    io.out(`${title}:`);
    for (const d of drivers) {
      io.out(`  ${d.name.padEnd(16)}${d.label}`);
      if (d.schema && Object.keys(d.schema.properties).length)
        io.out(`  ${''.padEnd(16)}keys: ${keys(d.schema)}`);
    }
  }
  return 0;
}

export const command: CliCommand = {
  summary: 'list the drivers a lab file can name, with their keys',
  usage: USAGE,
  main,
};
