import { fileFor, itemContent, requestedItems, specPath, type ProvisionMethod } from './method.js';

/**
 * `fat-files`: each item is a plain file on a FAT partition (the reference OS's `hw-test/`
 * folder, read by its first boot). FAT has no owners or modes.
 */
export const fatFiles: ProvisionMethod = {
  filesystems: ['vfat'],
  plan(cfg, { os }) {
    return Promise.resolve(
      requestedItems(cfg).map((item) => ({
        item,
        path: specPath(fileFor(os, item)),
        content: itemContent(item, cfg, os),
      })),
    );
  },
};
