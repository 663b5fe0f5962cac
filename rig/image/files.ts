import type { FsType } from './partitions.js';

export interface FileOptions {
  /** Permission bits (0o600); ignored on FAT. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Mode and owner of the directories this write creates (an `.ssh` folder: 0o700, the key's owner). */
  dirMode?: number;
}

/**
 * Files inside one partition of an image file, written without mounting it: FAT through mtools
 * (fat.ts), ext2/3/4 through e2fsprogs' debugfs (ext.ts). The provisioning methods are written
 * against this, so a JSON config file goes onto either.
 */
export interface PartitionFiles {
  readonly fs: Exclude<FsType, 'unknown'>;
  /** The file's content, or undefined when there is no such file. */
  read(path: string): Promise<string | undefined>;
  /** Writes (or replaces) a file, creating its parent directories. */
  write(path: string, content: string, opts?: FileOptions): Promise<void>;
  /** Owner of a file or directory, or undefined when it does not exist or the filesystem has none. */
  owner(path: string): Promise<{ uid: number; gid: number } | undefined>;
}
