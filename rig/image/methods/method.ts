import type { ConfigItem, FileSpec, OsProfile } from '../../catalog/os-profile.js';
import { InputError } from '../../errors.js';
import type { Spawner } from '../../util/spawn.js';
import type { FileOptions, PartitionFiles } from '../files.js';
import type { FoundPartition } from '../partitions.js';

/**
 * What a provisioning method (configure.method in the OS profile) is, and the helpers the methods
 * share. Each method is a file of this folder, listed in registry.ts; configure.ts runs them.
 */

/** A run's settings for an image. */
export interface ImageConfig {
  hostname?: string;
  /** An OpenSSH public key line, put into the SSH user's authorized_keys. */
  sshKey?: string;
  wifiSsid?: string;
  wifiPsk?: string;
  devMode?: boolean;
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

export function render(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m: string, k: string) => values[k] ?? m);
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
