import type { Spawner } from '../util/spawn.js';
import type { PartitionFiles } from './files.js';
import type { FoundPartition } from './partitions.js';

/** The right writer for the partition's filesystem. */
export async function partitionFiles(
  image: string,
  part: FoundPartition,
  spawner: Spawner,
): Promise<PartitionFiles | undefined> {
  if (part.fs === 'vfat') {
    const { FatImage } = await import('./fat.js');
    return new FatImage(spawner, image, part.offset);
  }
  if (part.fs === 'ext2' || part.fs === 'ext3' || part.fs === 'ext4') {
    const { ExtImage } = await import('./ext.js');
    return new ExtImage(spawner, image, part.offset, part.fs);
  }
  return undefined;
}
