import type { ConfigItem, FileSpec, OsProfile } from '../catalog/os-profile.js';
import { InputError } from '../errors.js';
import { logger, registerSecret } from '../log.js';
import { validateWifiCredentials } from '../net/hostapd.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import { partitionFiles, type FileOptions, type PartitionFiles } from './files.js';
import { findPartition, type FoundPartition } from './partitions.js';

const log = logger('image:configure');

export interface ImageConfig {
  hostname?: string;
  /** An OpenSSH public key line, put into the SSH user's authorized_keys. */
  sshKey?: string;
  wifiSsid?: string;
  wifiPsk?: string;
  devMode?: boolean;
}

export interface ConfiguredFile {
  /** What it configures: `hostname`, `authorizedKeys`, `wifi`, `devMode`, or several (`hostname, authorizedKeys`). */
  item: string;
  /** Its path in the partition. */
  path: string;
}

/** One file a method writes, with its mode and owner where the filesystem has them. */
export interface PlannedWrite extends FileOptions {
  item: string;
  path: string;
  content: string;
}

export interface MethodContext {
  os: OsProfile;
  files: PartitionFiles;
  part: FoundPartition;
  spawner: Spawner;
  image: string;
}

/** A provisioning method (configure.method): what it writes for a run's settings, and where. */
export interface ProvisionMethod {
  /** Filesystems it can write into. */
  readonly filesystems: readonly PartitionFiles['fs'][];
  /** The writes; reads the partition where a write depends on what is there (a JSON file, an owner). */
  plan(cfg: ImageConfig, ctx: MethodContext): Promise<PlannedWrite[]>;
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

export function render(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m: string, k: string) => values[k] ?? m);
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

/** The items a run asks for, in a fixed order. */
export function requestedItems(cfg: ImageConfig): ConfigItem[] {
  const out: ConfigItem[] = [];
  if (cfg.hostname !== undefined) out.push('hostname');
  if (cfg.sshKey !== undefined) out.push('authorizedKeys');
  if (cfg.wifiSsid !== undefined) out.push('wifi');
  if (cfg.devMode) out.push('devMode');
  return out;
}

export function specPath(spec: FileSpec): string {
  return typeof spec === 'string' ? spec : spec.path;
}

/** The profile's `files.ITEM`, or one line saying this OS cannot take the option. */
export function fileFor(os: OsProfile, item: ConfigItem): FileSpec {
  const spec = os.configure?.files?.[item];
  if (!spec)
    throw new InputError(`${os.file}: configure.files.${item} is not set, so this OS cannot take --${item}`, {
      file: os.file,
      field: `configure.files.${item}`,
    });
  return spec;
}

/** The WiFi file's content from the profile's template. */
export function wifiContent(cfg: ImageConfig, os: OsProfile): string {
  const t = os.configure?.wifiTemplate;
  if (!t)
    throw new InputError(`${os.file}: configure.wifiTemplate is not set`, {
      file: os.file,
      field: 'configure.wifiTemplate',
    });
  return render(t, { ssid: cfg.wifiSsid!, psk: cfg.wifiPsk! });
}

/** The plain content of each file item, shared by fat-files and ext-files. */
export function itemContent(item: ConfigItem, cfg: ImageConfig, os: OsProfile): string {
  switch (item) {
    case 'hostname':
      return `${cfg.hostname}\n`;
    case 'authorizedKeys':
      return `${cfg.sshKey!.trim()}\n`;
    case 'wifi':
      return wifiContent(cfg, os);
    case 'devMode':
      return '1\n';
  }
}

/** The profile's provisioning method, or one line saying it has none. */
export async function methodFor(os: OsProfile): Promise<ProvisionMethod> {
  const c = os.configure;
  if (!c || c.method === 'none') {
    throw new InputError(
      `${os.file}: OS profile "${os.name}" has no way to configure an image (configure.method is ${c?.method ?? 'missing'})`,
      { file: os.file, field: 'configure' },
    );
  }
  const methods: Record<string, () => Promise<ProvisionMethod>> = {
    'fat-files': async () => (await import('./methods/fat-files.js')).fatFiles,
    'ext-files': async () => (await import('./methods/ext-files.js')).extFiles,
    'json-config': async () => (await import('./methods/json-config.js')).jsonConfig,
    'rpi-boot': async () => (await import('./methods/rpi-boot.js')).rpiBoot,
  };
  return methods[c.method]();
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
