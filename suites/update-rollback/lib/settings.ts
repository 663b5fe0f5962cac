import type { OsProfile } from '../../../rig/catalog/os-profile.js';
import { InputError } from '../../../rig/errors.js';

/**
 * What the update suite needs to know about an OS, resolved from its profile (`update:` and
 * `commands:`), with the reference OS's conventions (balenaOS names) as defaults so that a profile
 * written before these fields existed keeps working.
 */
export interface UpdateSettings {
  /** Where the bundle is copied on the board (must hold it: a tmpfs on the reference OS). */
  bundleDir: string;
  /** A directory on the data partition, kept across updates. */
  dataDir: string;
  /** Bootloader variables attached before and after each test. */
  bootenv: string[];
  /** The variable that is 1 while the new slot is on trial, 0 once committed. */
  trialVariable: string;
  /** The variable holding the bootloader's maximum number of boot attempts. */
  bootlimitVariable: string;
  breadcrumbs: { altboot: string; health: string };
  repeatSameVersion: 'refused' | 'harmless';
  markers: UpdateMarkers;
}

/** Console patterns; named groups `slot`, `bootcount`, `version` are read where present. */
export interface UpdateMarkers {
  /** One line per boot attempt, printed by the bootloader, naming the slot it boots. */
  bootAttempt: RegExp;
  /** The bootloader fell back to the other slot. */
  altboot: RegExp;
  /** Userspace is up, naming the version and slot. */
  userspace: RegExp;
  /** The board is about to reset (kernel or bootloader): a boot ends here. */
  reset: RegExp;
  /** The update command started writing the inactive slot. */
  writing: RegExp;
  /** The write is over; the command verifies before switching (optional in the OS). */
  verifying: RegExp;
  /** The bootloader variables now point at the new slot. */
  switched: RegExp;
  /** The new slot's health check committed the update (its trial is over). */
  committed: RegExp;
}

export const DEFAULT_MARKERS: Record<keyof UpdateMarkers, string> = {
  bootAttempt:
    'hw-test: bootloader slot=(?<slot>\\w+) bootcount=(?<bootcount>\\d+) upgrade_available=(?<trial>\\d)',
  altboot: 'hw-test: rollback-altboot slot=\\S+',
  userspace: 'hw-test: userspace up version=(?<version>\\S+) slot=(?<slot>\\w+)',
  // Linux prints the first on reboot(2), the second on panic with panic=N; U-Boot the third.
  reset: 'reboot: Restarting system|Rebooting in \\d+ seconds|resetting \\.\\.\\.',
  writing: 'os-update: writing|hw-test: os-update start',
  verifying: 'os-update: verifying',
  switched: 'os-update: (?:switched|done)|hw-test: os-update done',
  committed: 'hw-test: health-check passed',
};

const DEFAULTS = {
  bundleDir: '/tmp',
  dataDir: '/mnt/data',
  bootenv: ['active_slot', 'upgrade_available', 'bootcount', 'bootlimit', 'rollback_altboot'],
  trialVariable: 'upgrade_available',
  bootlimitVariable: 'bootlimit',
  breadcrumbs: { altboot: 'rollback-altboot-triggered', health: 'rollback-health-triggered' },
};

/** The profile commands the suite cannot do without; a missing one skips the suite with its name. */
export const REQUIRED_COMMANDS = ['activeSlot', 'bootenvGet', 'breadcrumbs', 'update', 'sha256'] as const;

export function missingCommands(os: OsProfile): string[] {
  return REQUIRED_COMMANDS.filter((c) => !os.commands[c]);
}

export function updateSettings(os: OsProfile): UpdateSettings {
  const u = os.update ?? {};
  const markers = {} as UpdateMarkers;
  for (const key of Object.keys(DEFAULT_MARKERS) as (keyof UpdateMarkers)[]) {
    const source = u.markers?.[key] ?? DEFAULT_MARKERS[key];
    try {
      markers[key] = new RegExp(source);
    } catch (err) {
      throw new InputError(`${os.file}: update.markers.${key} is not a valid regular expression: fix it`, {
        file: os.file,
        field: `update.markers.${key}`,
        cause: String(err),
      });
    }
  }
  return {
    bundleDir: u.bundleDir ?? DEFAULTS.bundleDir,
    dataDir: u.dataDir ?? DEFAULTS.dataDir,
    bootenv: u.bootenv ?? DEFAULTS.bootenv,
    trialVariable: u.trialVariable ?? DEFAULTS.trialVariable,
    bootlimitVariable: u.bootlimitVariable ?? DEFAULTS.bootlimitVariable,
    breadcrumbs: { ...DEFAULTS.breadcrumbs, ...u.breadcrumbs },
    repeatSameVersion: u.repeatSameVersion ?? 'harmless',
    markers,
  };
}

/** Quotes a value for a POSIX shell, unless it is plainly safe. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Fills a profile command template: `{name}` is replaced by the quoted value. A placeholder with
 * no value is an error naming the command, except the optional `{sha256}`, whose absence drops
 * the word before it too (`--sha256 {sha256}` disappears when no checksum is known).
 */
export function renderCommand(
  template: string,
  values: Record<string, string | undefined>,
  what = 'command',
): string {
  let out = template;
  if (values.sha256 === undefined) out = out.replace(/\s*\S*\s*\{sha256\}/g, '');
  return out.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined)
      throw new InputError(`OS profile ${what}: no value for {${name}} in "${template}"`, { field: what });
    return shellQuote(v);
  });
}
