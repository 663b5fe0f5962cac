import path from 'node:path';
import type { ConfigItem, FileSpec } from '../../catalog/os-profile.js';
import { InputError } from '../../errors.js';
import {
  fileFor,
  itemContent,
  requestedItems,
  specPath,
  type MethodContext,
  type PlannedWrite,
  type ProvisionMethod,
} from './method.js';

/** Modes a daemon insists on: sshd refuses a group-writable authorized_keys, NetworkManager a readable keyfile. */
const DEFAULT_MODE: Record<ConfigItem, number> = {
  hostname: 0o644,
  authorizedKeys: 0o600,
  wifi: 0o600,
  devMode: 0o644,
};

function parseOwner(owner: string): { uid: number; gid: number } {
  const [uid, gid] = owner.split(':').map(Number);
  return { uid, gid };
}

/**
 * The owner of an authorized_keys: the user whose home holds its `.ssh` folder (the folder's own
 * owner when it exists), so that sshd's StrictModes accepts it; root's for anything else.
 */
async function ownerOf(
  item: ConfigItem,
  file: string,
  ctx: MethodContext,
): Promise<{ uid: number; gid: number }> {
  if (item !== 'authorizedKeys') return { uid: 0, gid: 0 };
  const sshDir = path.posix.dirname(file);
  const found = (await ctx.files.owner(sshDir)) ?? (await ctx.files.owner(path.posix.dirname(sshDir)));
  if (!found)
    throw new InputError(
      `${ctx.image}: configure.files.authorizedKeys is ${file}, but neither ${sshDir} nor its parent exists on partition ${ctx.part.number}: is it the home of ssh.user ${ctx.os.ssh.user}?`,
      { file: ctx.os.file, field: 'configure.files.authorizedKeys' },
    );
  return found;
}

async function planItem(
  item: ConfigItem,
  spec: FileSpec,
  content: string,
  ctx: MethodContext,
): Promise<PlannedWrite> {
  const file = `/${specPath(spec).replace(/^\/+/, '')}`;
  const o: { mode?: string; owner?: string } = typeof spec === 'string' ? {} : spec;
  const owner = o.owner ? parseOwner(o.owner) : await ownerOf(item, file, ctx);
  return {
    item,
    path: file,
    content,
    mode: o.mode ? parseInt(o.mode, 8) : DEFAULT_MODE[item],
    ...owner,
    dirMode: item === 'authorizedKeys' || item === 'wifi' ? 0o700 : 0o755,
  };
}

/**
 * `ext-files`: each item is a file on an ext2/3/4 partition, usually the root filesystem:
 * `/etc/hostname`, `/root/.ssh/authorized_keys`, a NetworkManager keyfile or a wpa_supplicant
 * file, with the owner and mode the daemons that read them require (written with debugfs).
 */
export const extFiles: ProvisionMethod = {
  filesystems: ['ext2', 'ext3', 'ext4'],
  async plan(cfg, ctx) {
    const out: PlannedWrite[] = [];
    for (const item of requestedItems(cfg))
      out.push(await planItem(item, fileFor(ctx.os, item), itemContent(item, cfg, ctx.os), ctx));
    return out;
  },
};
