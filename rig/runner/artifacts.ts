import type { BoardType } from '../catalog/board.js';
import { REFERENCE_OS, type OsProfile } from '../catalog/os-profile.js';
import { InputError } from '../errors.js';
import { referenceArtifact } from '../image/artifacts.js';
import type { SuiteArtifact } from '../suite-api/manifest.js';

/**
 * Where a suite's artifact can come from: a run option the user gave (`--OPTION FILE|URL`), or
 * what the board type's default image can build (the reference OS's update bundles).
 */
export interface ArtifactSource {
  /** For messages: `--update-bundle`, `the qemu-x86-64 reference image` ... */
  readonly name: string;
  /** The artifact's file, or undefined when this source has none. */
  provide(artifact: SuiteArtifact, opts: { signal: AbortSignal }): Promise<string | undefined>;
}

/**
 * Each artifact from the first source that has it, in the order given, else its `fallback` (under
 * the fallback's name). A required artifact that neither has is bad input, found before anything
 * is flashed, naming the option to pass.
 */
export async function resolveArtifacts(
  artifacts: readonly SuiteArtifact[],
  sources: readonly ArtifactSource[],
  opts: { signal: AbortSignal },
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const a of artifacts) {
    const file = await firstProvided(a, sources, opts);
    if (file) {
      found.set(a.name, file);
      continue;
    }
    const alt = a.fallback ? { ...a, name: a.fallback, fallback: undefined } : undefined;
    const altFile = alt && (await firstProvided(alt, sources, opts));
    if (alt && altFile) found.set(alt.name, altFile);
    else if (a.required) throw missingArtifact(a);
  }
  return found;
}

async function firstProvided(
  a: SuiteArtifact,
  sources: readonly ArtifactSource[],
  opts: { signal: AbortSignal },
): Promise<string | undefined> {
  for (const s of sources) {
    const file = await s.provide(a, opts);
    if (file) return file;
  }
  return undefined;
}

function missingArtifact(a: SuiteArtifact): InputError {
  const how = a.option ? `pass --${a.option} FILE|URL` : 'no run option supplies it for this board';
  return new InputError(`the run needs ${a.description} (${a.name}): ${how}`, { field: a.option });
}

/**
 * The files the user named on the command line, by option (`update-bundle` -> path or URL): a URL
 * is downloaded into the cache, and a published `.sha256` beside a file or URL is enforced.
 */
export function optionSource(
  given: Readonly<Record<string, string>>,
  env: NodeJS.ProcessEnv = process.env,
): ArtifactSource {
  return {
    name: 'the run options',
    async provide(artifact, { signal }) {
      const value = artifact.option ? given[artifact.option] : undefined;
      if (!value) return undefined;
      const { resolveUserArtifact } = await import('./user-artifacts.js');
      const { downloadDir } = await import('../flash/download.js');
      // The run's download cache, like the image's (HW_TEST_DOWNLOADS).
      return resolveUserArtifact(artifact.option!, value, { signal, cacheDir: downloadDir(env) });
    },
  };
}

/**
 * The board type's default image as a source (the reference OS's bundles), when it has one. Its
 * bundles fit the OS that image runs, so a run under another OS profile gets none of them (another
 * update system would refuse them): that run names its own (`--update-bundle`).
 */
export function defaultImageSource(
  board: BoardType,
  os: OsProfile,
  env: NodeJS.ProcessEnv,
): ArtifactSource | undefined {
  if (!board.defaultImage || os.file !== REFERENCE_OS) return undefined;
  return {
    name: `the ${board.name} reference image`,
    provide: (artifact, { signal }) => referenceArtifact(board, artifact.name, { signal, env }),
  };
}
