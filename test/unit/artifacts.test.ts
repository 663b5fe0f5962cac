import { expect } from 'chai';
import { InputError } from '../../rig/errors.js';
import { resolveArtifacts, type ArtifactSource } from '../../rig/runner/artifacts.js';

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
});
