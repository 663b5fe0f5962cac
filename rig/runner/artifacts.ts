import type { BoardType } from '../catalog/board.js';
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
 * Each artifact from the first source that has it, in the order given. A required artifact no
 * source has is bad input, found before anything is flashed, naming the option to pass.
 */
export async function resolveArtifacts(
  artifacts: readonly SuiteArtifact[],
  sources: readonly ArtifactSource[],
  opts: { signal: AbortSignal },
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const a of artifacts) {
    const file = await firstProvided(a, sources, opts);
    if (file) found.set(a.name, file);
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

/** The board type's default image as a source (the reference OS's bundles), when it has one. */
export function defaultImageSource(board: BoardType, env: NodeJS.ProcessEnv): ArtifactSource | undefined {
  if (!board.defaultImage) return undefined;
  return {
    name: `the ${board.name} reference image`,
    provide: (artifact, { signal }) => referenceArtifact(board, artifact.name, { signal, env }),
  };
}
