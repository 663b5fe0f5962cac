import type { BoardType } from '../catalog/board.js';
import { BUNDLE_VARIANTS, ensureImage } from './build.js';

/**
 * What the reference OS build offers a board whose default image it is: its update bundles, by
 * artifact name `update:<variant>` (built, or found in the image cache, like the image itself).
 * Undefined for an artifact it does not make, or a board with no default image.
 */
export async function referenceArtifact(
  board: BoardType,
  name: string,
  opts: { signal: AbortSignal; env: NodeJS.ProcessEnv },
): Promise<string | undefined> {
  const image = board.defaultImage;
  const variant = /^update:(.+)$/.exec(name)?.[1];
  if (!image || !variant || !BUNDLE_VARIANTS.has(variant)) return undefined;
  return (await ensureImage(image.arch, variant, opts)).bundle;
}
