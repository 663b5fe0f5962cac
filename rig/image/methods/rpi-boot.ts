import { InputError } from '../../errors.js';
import { runChecked } from '../../util/spawn.js';
import type { ImageConfig, MethodContext, PlannedWrite, ProvisionMethod } from './method.js';

/** A TOML basic string: JSON's string escapes (\\ \" \n \uXXXX) are TOML's. */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}

/**
 * custom.toml, as raspberrypi-sys-mods' firstboot applies it (init_config): [system] hostname,
 * [ssh] enabled and authorized_keys, [wlan] ssid, password (plain: firstboot derives the PSK) and
 * country.
 */
export function customToml(cfg: ImageConfig, country: string): string {
  const lines = ['config_version = 1', ''];
  if (cfg.hostname !== undefined) lines.push('[system]', `hostname = ${tomlString(cfg.hostname)}`, '');
  if (cfg.sshKey !== undefined)
    lines.push('[ssh]', 'enabled = true', `authorized_keys = [ ${tomlString(cfg.sshKey.trim())} ]`, '');
  if (cfg.wifiSsid !== undefined && cfg.wifiPsk !== undefined)
    lines.push(
      '[wlan]',
      `ssid = ${tomlString(cfg.wifiSsid)}`,
      `password = ${tomlString(cfg.wifiPsk)}`,
      'password_encrypted = false',
      'hidden = false',
      `country = ${tomlString(country)}`,
      '',
    );
  return lines.join('\n');
}

/** `openssl passwd -6`: a SHA-512 crypt hash, the password on stdin (never on a command line). */
async function sha512Crypt(password: string, ctx: MethodContext): Promise<string> {
  const r = await runChecked(ctx.spawner, 'openssl', ['passwd', '-6', '-stdin'], {
    input: `${password}\n`,
    timeoutMs: 10_000,
    what: 'openssl passwd -6 (the userconf.txt password hash)',
  });
  const hash = r.stdout.trim();
  if (!hash.startsWith('$6$')) throw new InputError(`openssl passwd -6 printed no SHA-512 crypt hash`);
  return hash;
}

/**
 * `rpi-boot`: Raspberry Pi OS (Bookworm) on its FAT boot partition (/boot/firmware): an empty
 * `ssh` turns sshd on (sshswitch.service), `userconf.txt` makes the first user
 * (`name:<SHA-512 crypt>`, userconfig.service), and `custom.toml` carries the hostname, the SSH
 * key and the WiFi network, applied once by firstboot. Bookworm no longer reads a
 * wpa_supplicant.conf from the boot partition (NetworkManager replaced dhcpcd).
 */
export const rpiBoot: ProvisionMethod = {
  filesystems: ['vfat'],
  async plan(cfg, ctx) {
    const { os } = ctx;
    if (cfg.devMode)
      throw new InputError(
        `${os.file}: configure.method rpi-boot has no development mode, so this OS cannot take --dev-mode`,
        {
          file: os.file,
          field: 'configure.method',
        },
      );
    const user = os.configure?.rpi?.user ?? os.ssh.user;
    const password = os.console.password ?? os.ssh.password;
    if (!password)
      throw new InputError(
        `${os.file}: configure.method rpi-boot writes userconf.txt, which needs a password: set console.password (or passwordEnv)`,
        { file: os.file, field: 'console.password' },
      );
    const out: PlannedWrite[] = [
      { item: 'ssh', path: 'ssh', content: '' },
      { item: 'userconf', path: 'userconf.txt', content: `${user}:${await sha512Crypt(password, ctx)}\n` },
    ];
    const toml = customToml(cfg, os.configure?.rpi?.wifiCountry ?? 'GB');
    const items = [
      cfg.hostname !== undefined && 'hostname',
      cfg.sshKey !== undefined && 'authorizedKeys',
      cfg.wifiSsid !== undefined && 'wifi',
    ].filter(Boolean);
    if (items.length) out.push({ item: items.join(', '), path: 'custom.toml', content: toml });
    return out;
  },
};
