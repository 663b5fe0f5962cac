import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '../../rig/errors.js';
import { loadBoard } from '../../rig/catalog/board.js';
import { REFERENCE_OS, loadOsProfile } from '../../rig/catalog/os-profile.js';
import { ROOT } from '../../rig/catalog/schema.js';
import {
  defaultImageSource,
  optionSource,
  resolveArtifacts,
  type ArtifactSource,
} from '../../rig/runner/artifacts.js';

const source = (name: string, files: Record<string, string>): ArtifactSource => ({
  name,
  provide: (a) => Promise.resolve(files[a.name]),
});

describe("runner: a suite's artifacts from their sources", () => {
  const signal = new AbortController().signal;

  it('takes each artifact from the first source that has it, and leaves an optional one out', async () => {
    const found = await resolveArtifacts(
      [
        { name: 'update:v2', description: 'a good bundle' },
        { name: 'update:broken', description: 'a broken bundle' },
        { name: 'extra', description: 'nobody has it' },
      ],
      [
        source('--update-bundle', { 'update:v2': '/mine/v2.raucb' }),
        source('reference', { 'update:v2': '/ref/v2', 'update:broken': '/ref/broken' }),
      ],
      { signal },
    );
    expect([...found]).to.deep.equal([
      ['update:v2', '/mine/v2.raucb'],
      ['update:broken', '/ref/broken'],
    ]);
  });

  it('refuses the run as bad input when a required artifact has no source, naming the option', async () => {
    const err = await resolveArtifacts(
      [
        {
          name: 'update:v2',
          description: 'an update bundle of a good new version',
          option: 'update-bundle',
          required: true,
        },
      ],
      [source('reference', {})],
      { signal },
    ).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.equal(
      'the run needs an update bundle of a good new version (update:v2): pass --update-bundle FILE|URL',
    );
  });

  const bundle = {
    name: 'update-bundle',
    description: 'the update bundle of the image under test',
    option: 'update-bundle',
    fallback: 'update:v2',
    required: true,
  };

  it("takes the user's file first, else the fallback under its own name, else refuses a required one", async () => {
    const reference = source('reference', { 'update:v2': '/ref/v2' });
    const mine = source('--update-bundle', { 'update-bundle': '/mine/update.raucb' });
    expect([...(await resolveArtifacts([bundle], [mine, reference], { signal }))]).to.deep.equal([
      ['update-bundle', '/mine/update.raucb'],
    ]);
    expect([
      ...(await resolveArtifacts([bundle], [source('none', {}), reference], { signal })),
    ]).to.deep.equal([['update:v2', '/ref/v2']]);
    const err = await resolveArtifacts([bundle], [source('none', {})], { signal }).catch((e: unknown) => e);
    expect((err as Error).message).to.equal(
      'the run needs the update bundle of the image under test (update-bundle): pass --update-bundle FILE|URL',
    );
  });

  it("the option source gives the file named by the artifact's option, checked against its .sha256", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hwt-artifacts-'));
    const file = path.join(dir, 'update.raucb');
    writeFileSync(file, 'bundle');
    writeFileSync(`${file}.sha256`, `${'0'.repeat(64)}  update.raucb\n`);
    const src = optionSource({ 'update-bundle': file });
    expect(await src.provide({ ...bundle, option: 'other' }, { signal })).to.equal(undefined);
    const err = await src.provide(bundle, { signal }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.contain(`--update-bundle ${file}: sha256 is `);
  });

  it("offers the reference build's bundles only to a run under the reference OS profile", () => {
    const x86 = loadBoard('qemu-x86-64');
    expect(defaultImageSource(x86, loadOsProfile(REFERENCE_OS), {})).to.not.equal(undefined);
    const rauc = loadOsProfile(path.join(ROOT, 'os', 'profiles', 'rauc.yaml'));
    expect(defaultImageSource(x86, rauc, {})).to.equal(undefined);
    expect(defaultImageSource(loadBoard('raspberrypi3'), loadOsProfile(REFERENCE_OS), {})).to.equal(
      undefined,
    );
  });
});
