import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../rig/catalog/board.js';
import { ROOT } from '../../rig/catalog/schema.js';
import {
  builtinSuites,
  knownSuites,
  loadSuites,
  missingCapabilities,
  reportOrder,
  suiteNeeds,
  suiteOptions,
  suitesFor,
} from '../../rig/catalog/suites.js';
import { InputError } from '../../rig/errors.js';

describe('the fixture API and the suite manifests', () => {
  it('is the package export hw-test/suite, typed, and the module the built-in suites use', async () => {
    const exported = import.meta.resolve('hw-test/suite');
    expect(fileURLToPath(exported)).to.equal(path.join(ROOT, 'dist', 'rig', 'suite-api', 'index.js'));
    expect(existsSync(path.join(ROOT, 'dist', 'rig', 'suite-api', 'index.d.ts')), 'its types').to.equal(true);
    const api = await import('hw-test/suite');
    const fixture = await import('../../suites/fixture.js');
    // The same module instance: a suite's rig() sees the context the runner set through the export.
    expect(fixture.rig).to.equal(api.rig);
    expect(fixture.setRig).to.equal(api.setRig);
    expect(fixture.defineSuite).to.equal(api.defineSuite);
  });

  it('loads a manifest per built-in suite, named after its folder', async () => {
    const suites = await builtinSuites();
    expect(suites.map((s) => s.name)).to.deep.equal(knownSuites());
    for (const s of suites) {
      expect(s.manifest.name).to.equal(s.name);
      expect(s.files.length, s.name).to.be.greaterThan(0);
    }
  });

  it('gives the report order, the default and health-check suites, and the suites options from manifests', async () => {
    const suites = await builtinSuites();
    expect(reportOrder(suites)).to.deep.equal(['boot', 'network', 'wifi', 'update-rollback']);
    expect(suitesFor('default', suites)).to.deep.equal(['boot']);
    expect(suitesFor('healthCheck', suites)).to.deep.equal(['boot']);
    expect(suiteOptions(suites).map((o) => `${o.suite} --${o.name} ${o.value}`)).to.deep.equal([
      'update-rollback --cuts N',
      'update-rollback --seed S',
    ]);
  });

  it('tells what the selected suites need: a network, an access point for a board with a radio, artifacts', async () => {
    const x86 = loadBoard('qemu-x86-64');
    const bbb = loadBoard('beaglebone-black');
    expect(suiteNeeds(await loadSuites(['boot']), x86)).to.deep.equal({
      network: false,
      accessPoint: false,
      artifacts: [],
    });
    const wifi = await loadSuites(['boot', 'wifi']);
    expect(suiteNeeds(wifi, bbb)).to.include({ network: true, accessPoint: false });
    expect(suiteNeeds(wifi, x86)).to.include({ network: true, accessPoint: true });
    expect(missingCapabilities(wifi[1].manifest, bbb)).to.deep.equal(['wifi']);
    expect(missingCapabilities(wifi[1].manifest, x86)).to.deep.equal([]);
    const update = suiteNeeds(await loadSuites(['update-rollback', 'update-rollback']), x86);
    expect(update.artifacts.map((a) => a.name)).to.deep.equal([
      'update:v2',
      'update:health-fails',
      'update:unbootable-update',
    ]);
  });

  it('refuses an unknown suite as bad input, listing the known ones', async () => {
    const err = await loadSuites(['bogus']).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(/^unknown suite "bogus": suites are .*boot/);
  });
});
