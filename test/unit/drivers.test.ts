import { expect } from 'chai';
import { capabilitySchema, type SchemaFragment } from '../../rig/catalog/drivers.js';
import { labSchema } from '../../rig/catalog/lab.js';
import { GPIO_DRIVERS, gpioDriver } from '../../rig/gpio/registry.js';
import { POWER_DRIVERS, powerDriver } from '../../rig/power/registry.js';
import { MUX_DRIVERS, muxDriver } from '../../rig/sdmux/registry.js';
import { InputError } from '../../rig/errors.js';
import { runCli } from '../helpers/cli.js';

type Definitions = Record<string, { properties?: Record<string, { enum?: unknown[] }>; enum?: unknown[] }>;

describe('drivers describe themselves; a registry per capability composes them', () => {
  it('each driver has one name, a label and its keys', () => {
    for (const drivers of [POWER_DRIVERS, MUX_DRIVERS, GPIO_DRIVERS] as const) {
      const names = drivers.map((d) => d.name);
      expect(new Set(names).size, names.join(', ')).to.equal(names.length);
      for (const d of drivers) expect(d.label, d.name).to.match(/\w{4}/);
    }
  });

  it("composes the lab file's schema: the drivers' names and keys, each driver's required keys", () => {
    const defs = (labSchema() as { definitions: Definitions }).definitions;
    expect(defs.power.properties?.driver.enum).to.deep.equal(POWER_DRIVERS.map((d) => d.name));
    expect(defs.mux.properties?.driver.enum).to.deep.equal(MUX_DRIVERS.map((d) => d.name));
    expect(defs.gpioDriver.enum).to.deep.equal(['sysfs', 'libgpiod', 'sim']);
    expect(Object.keys(defs.mux.properties ?? {})).to.include.members([
      'sg',
      'serial',
      'select',
      'cardPower',
      'image',
    ]);
    expect(JSON.stringify(defs.mux)).to.contain(
      '{"if":{"properties":{"driver":{"const":"usbsdmux"}}},"then":{"required":["sg","device"]}}',
    );
  });

  it('refuses two drivers that describe one key differently', () => {
    const a: { name: string; schema: SchemaFragment } = {
      name: 'a',
      schema: { properties: { device: { type: 'string' } } },
    };
    const b: { name: string; schema: SchemaFragment } = {
      name: 'b',
      schema: { properties: { device: { type: 'integer' } } },
    };
    expect(() => capabilitySchema('mux', [a, b])).to.throw(
      'mux driver b: key "device" differs from another driver\'s',
    );
  });

  it('an unknown driver name is bad input, one line listing the known ones', () => {
    expect(() => gpioDriver('gpiozero')).to.throw(
      InputError,
      'unknown GPIO driver "gpiozero": known GPIO drivers are sysfs, libgpiod, sim',
    );
    // A lab file is validated first (the schema names the field); the registries say the same.
    expect(() => powerDriver({ driver: 'relay-o-matic' } as never)).to.throw(
      /known power drivers are gpio-relay, /,
    );
    expect(() => muxDriver({ driver: 'sd-o-matic' } as never)).to.throw(
      /known mux drivers are usbsdmux, sdwire, /,
    );
  });

  it('hw-test drivers lists every driver with its keys', async function () {
    this.timeout(20_000);
    const r = await runCli(['drivers']);
    expect(r.code, r.stderr).to.equal(0);
    for (const d of [...POWER_DRIVERS, ...MUX_DRIVERS, ...GPIO_DRIVERS])
      expect(r.stdout).to.contain(`  ${d.name} `);
    expect(r.stdout).to.match(/^ {2}usbsdmux {8}.*\n {18}keys: device\*, sg\*, timeoutMs$/m);
    const schema = await runCli(['drivers', '--schema']);
    expect(JSON.parse(schema.stdout)).to.deep.equal(labSchema());
  });
});
