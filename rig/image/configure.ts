import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { OsProfile } from '../catalog/os-profile.js';
import { InputError } from '../errors.js';
import { logger, registerSecret } from '../log.js';
import { validateWifiCredentials } from '../net/hostapd.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import { FatImage, fatPartitionOffset } from './fat.js';

const log = logger('image:configure');

export interface ImageConfig {
  hostname?: string;
  /** An OpenSSH public key line, put into root's authorized_keys. */
  sshKey?: string;
  wifiSsid?: string;
  wifiPsk?: string;
  devMode?: boolean;
}

export interface ConfiguredFile {
  /** What it configures: `hostname`, `authorizedKeys`, `wifi`, `devMode`. */
  item: keyof NonNullable<NonNullable<OsProfile['configure']>['files']>;
  /** Its path in the boot partition. */
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

function render(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m: string, k: string) => values[k] ?? m);
}

/** The files to write and their content, per the OS profile's `configure` block. */
export function configFiles(
  cfg: ImageConfig,
  os: OsProfile,
): { item: ConfiguredFile['item']; path: string; content: string }[] {
  const c = os.configure;
  if (!c || c.method === 'none') {
    throw new InputError(
      `${os.file}: OS profile "${os.name}" has no way to configure an image (configure.method is ${c?.method ?? 'missing'})`,
      { file: os.file, field: 'configure' },
    );
  }
  const files = c.files ?? {};
  const out: { item: ConfiguredFile['item']; path: string; content: string }[] = [];
  const need = (item: ConfiguredFile['item']): string => {
    const p = files[item];
    if (!p)
      throw new InputError(
        `${os.file}: configure.files.${item} is not set, so this OS cannot take --${item}`,
        { file: os.file, field: `configure.files.${item}` },
      );
    return p;
  };
  if (cfg.hostname !== undefined) {
    validateHostname(cfg.hostname);
    out.push({ item: 'hostname', path: need('hostname'), content: `${cfg.hostname}\n` });
  }
  if (cfg.sshKey !== undefined)
    out.push({ item: 'authorizedKeys', path: need('authorizedKeys'), content: `${cfg.sshKey.trim()}\n` });
  if (cfg.wifiSsid !== undefined || cfg.wifiPsk !== undefined) {
    if (cfg.wifiSsid === undefined || cfg.wifiPsk === undefined)
      throw new InputError('WiFi needs both --wifi-ssid and --wifi-psk', {
        field: cfg.wifiSsid === undefined ? 'wifi-ssid' : 'wifi-psk',
      });
    registerSecret(cfg.wifiPsk);
    validateWifiCredentials({ ssid: cfg.wifiSsid, passphrase: cfg.wifiPsk }, 'image configure');
    if (!c.wifiTemplate)
      throw new InputError(`${os.file}: configure.wifiTemplate is not set`, {
        file: os.file,
        field: 'configure.wifiTemplate',
      });
    out.push({
      item: 'wifi',
      path: need('wifi'),
      content: render(c.wifiTemplate, { ssid: cfg.wifiSsid, psk: cfg.wifiPsk }),
    });
  }
  if (cfg.devMode) out.push({ item: 'devMode', path: need('devMode'), content: '1\n' });
  return out;
}

/**
 * Writes hostname, SSH key, WiFi credentials and development mode into the image's boot
 * partition (the OS profile's `configure` block says which file holds what), with mtools at the
 * partition's byte offset: no mount, no root. Returns the files written.
 */
export async function configureImage(
  image: string,
  cfg: ImageConfig,
  os: OsProfile,
  opts: { spawner?: Spawner } = {},
): Promise<ConfiguredFile[]> {
  const files = configFiles(cfg, os);
  if (files.length === 0) return [];
  const partition = os.configure?.partition ?? 1;
  const fat = new FatImage(opts.spawner ?? realSpawner, image, fatPartitionOffset(image, partition));
  // The WiFi file holds the passphrase: it lives in a private folder only as long as mcopy needs it.
  const tmp = mkdtempSync(path.join(tmpdir(), 'hwt-configure-'));
  try {
    for (const f of files) {
      const dir = path.posix.dirname(f.path);
      if (dir !== '.' && dir !== '/') await fat.mkdirs(dir);
      const local = path.join(tmp, f.item);
      writeFileSync(local, f.content, { mode: 0o600 });
      await fat.put(local, f.path);
      log('%s: wrote %s (%s) to partition %d', image, f.path, f.item, partition);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return files.map(({ item, path: p }) => ({ item, path: p }));
}
