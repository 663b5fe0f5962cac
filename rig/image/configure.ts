import type { OsProfile } from '../catalog/os-profile.js';
import { InputError } from '../errors.js';
import { logger, registerSecret } from '../log.js';
import { validateWifiCredentials } from '../net/hostapd.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import type { PartitionFiles } from './files.js';
import { requestedItems, type ImageConfig, type ProvisionMethod } from './methods/method.js';
import { methodFor } from './methods/registry.js';
import { partitionFiles } from './open-files.js';
import { findPartition, type FoundPartition } from './partitions.js';

export type { ImageConfig, PlannedWrite, ProvisionMethod } from './methods/method.js';
export { methodFor } from './methods/registry.js';

const log = logger('image:configure');

export interface ConfiguredFile {
  /** What it configures: `hostname`, `authorizedKeys`, `wifi`, `devMode`, or several (`hostname, authorizedKeys`). */
  item: string;
  /** Its path in the partition. */
  path: string;
}

/** RFC 1123 host label, as the board's DHCP client and avahi will announce it. */
export function validateHostname(h: string): void {
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(h)) {
    throw new InputError(
      `hostname "${h}": use 1 to 63 letters, digits and inner hyphens (it becomes ${h}.local)`,
      { field: 'hostname' },
    );
  }
}

/** Checks the settings themselves, whatever the method; the WiFi passphrase becomes a secret. */
export function validateConfig(cfg: ImageConfig): void {
  if (cfg.hostname !== undefined) validateHostname(cfg.hostname);
  if (cfg.wifiSsid !== undefined || cfg.wifiPsk !== undefined) {
    if (cfg.wifiSsid === undefined || cfg.wifiPsk === undefined)
      throw new InputError('WiFi needs both --wifi-ssid and --wifi-psk', {
        field: cfg.wifiSsid === undefined ? 'wifi-ssid' : 'wifi-psk',
      });
    registerSecret(cfg.wifiPsk);
    validateWifiCredentials({ ssid: cfg.wifiSsid, passphrase: cfg.wifiPsk }, 'image configure');
  }
}

/** The partition the profile names, opened with the writer for its filesystem, checked against the method. */
export async function openConfigPartition(
  image: string,
  os: OsProfile,
  method: ProvisionMethod,
  spawner: Spawner,
): Promise<{ part: FoundPartition; files: PartitionFiles }> {
  const ref = os.configure?.partition ?? 1;
  const part = findPartition(image, ref);
  const files = await partitionFiles(image, part, spawner);
  if (!files || !method.filesystems.includes(files.fs)) {
    throw new InputError(
      `${image}: partition ${part.number} holds ${part.fs === 'unknown' ? 'no filesystem hw-test can write' : part.fs}, and configure.method ${os.configure!.method} writes ${method.filesystems.join(' or ')}: check configure.partition and configure.method in ${os.file}`,
      { file: image, field: 'configure.partition' },
    );
  }
  if (part.needsRecovery) {
    throw new InputError(
      `${image}: partition ${part.number} (${part.fs}) has a journal to replay: run e2fsck on it before configuring the image`,
      { file: image, field: 'configure.partition' },
    );
  }
  return { part, files };
}

/**
 * Writes hostname, SSH key, WiFi credentials and development mode into the partition the OS
 * profile names, the way its `configure.method` says: the image file is written directly, never
 * mounted. Returns the files written.
 */
export async function configureImage(
  image: string,
  cfg: ImageConfig,
  os: OsProfile,
  opts: { spawner?: Spawner } = {},
): Promise<ConfiguredFile[]> {
  const method = await methodFor(os);
  validateConfig(cfg);
  if (requestedItems(cfg).length === 0) return [];
  const spawner = opts.spawner ?? realSpawner;
  const { part, files } = await openConfigPartition(image, os, method, spawner);
  const writes = await method.plan(cfg, { os, files, part, spawner, image });
  for (const w of writes) {
    await files.write(w.path, w.content, w);
    log('%s: wrote %s (%s) to partition %d', image, w.path, w.item, part.number);
  }
  return writes.map(({ item, path }) => ({ item, path }));
}
