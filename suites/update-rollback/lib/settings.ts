import type { OsProfile } from '../../../rig/catalog/os-profile.js';
import { InputError } from '../../../rig/errors.js';

/**
 * What the update suite needs to know about an OS, resolved from its profile (`update:` and
 * `commands:`), with the reference OS's conventions (balenaOS names) as defaults so that a profile
 * written before these fields existed keeps working. docs/updates.md is the user's view of it.
 */
export interface UpdateSettings {
  /** Where the bundle is copied on the board (must hold it: a tmpfs on the reference OS). */
  bundleDir: string;
  /** A directory on the data partition, kept across updates. */
  dataDir: string;
  /** Bootloader variables attached before and after each test. */
  bootenv: string[];
  /** The variable that is 1 while the new system is on trial (when there is no `commands.trial`). */
  trialVariable: string;
  /** How many boots of a new system the bootloader attempts: a number, or a variable holding it. */
  bootlimit: { value: number } | { variable: string };
  breadcrumbs: { altboot: string; health: string };
  repeatSameVersion: 'refused' | 'harmless';
  /** Board-side commands that break a just-installed system before its first boot. */
  sabotage: { unbootable?: string; unhealthy?: string };
  markers: UpdateMarkers;
}

/**
 * Console patterns; named groups `slot`, `bootcount`, `left`, `trial`, `version` are read where
 * present. The optional ones are undefined when the OS prints no such line.
 */
export interface UpdateMarkers {
  /** One line per boot attempt, printed by the bootloader, naming what it boots. */
  bootAttempt?: RegExp;
  /** The bootloader fell back to the system that ran before. */
  altboot?: RegExp;
  /** Userspace is up, naming the version and the booted slot or deployment. */
  userspace: RegExp;
  /** The board is about to reset (kernel or bootloader): a boot ends here. */
  reset: RegExp;
  /** The bootloader could not boot an entry (no kernel): it resets or tries the next. */
  bootFailed?: RegExp;
  /** The health check rolled back. */
  healthFailed?: RegExp;
  /** The update command started writing. */
  writing?: RegExp;
  /** The write is over; the command verifies and switches next. */
  verifying?: RegExp;
  /** The bootloader now points at the new system. */
  switched?: RegExp;
  /** The new system's health check committed the update (its trial is over). */
  committed?: RegExp;
}

export type MarkerName = keyof UpdateMarkers;

export const DEFAULT_MARKERS: Record<MarkerName, string> = {
  bootAttempt:
    'hw-test: bootloader slot=(?<slot>\\w+) bootcount=(?<bootcount>\\d+) upgrade_available=(?<trial>\\d)',
  altboot: 'hw-test: rollback-altboot slot=\\S+',
  userspace: 'hw-test: userspace up version=(?<version>\\S+) slot=(?<slot>\\w+)',
  // Linux prints the first on reboot(2), the second on panic with panic=N; U-Boot the third.
  reset: 'reboot: Restarting system|Rebooting in \\d+ seconds|resetting \\.\\.\\.',
  bootFailed: 'hw-test: bootloader cannot boot|hw-test: boot of slot \\S+ failed',
  healthFailed: 'hw-test: rollback-health-triggered',
  writing: 'os-update: writing|hw-test: os-update start',
  verifying: 'os-update: verifying',
  switched: 'os-update: (?:switched|done)|hw-test: os-update done',
  committed: 'hw-test: health-check passed',
};

const REQUIRED_MARKERS: readonly MarkerName[] = ['userspace', 'reset'];

const DEFAULTS = {
  bundleDir: '/tmp',
  dataDir: '/mnt/data',
  bootenv: ['active_slot', 'upgrade_available', 'bootcount', 'bootlimit', 'rollback_altboot'],
  trialVariable: 'upgrade_available',
  bootlimitVariable: 'bootlimit',
  breadcrumbs: { altboot: 'rollback-altboot-triggered', health: 'rollback-health-triggered' },
};

/**
 * The profile commands the suite cannot do without; a missing one skips the suite with its name.
 * `booted` may still be given under its old name `activeSlot`.
 */
export const REQUIRED_COMMANDS = ['booted', 'update', 'reboot', 'sha256'] as const;

export function missingCommands(os: OsProfile): string[] {
  return REQUIRED_COMMANDS.filter((c) => !(c === 'booted' ? bootedCommand(os) : os.commands[c]));
}

/** The command printing the token of the slot or deployment running now. */
export function bootedCommand(os: OsProfile): string | undefined {
  return os.commands.booted ?? os.commands.activeSlot;
}

function compileMarkers(os: OsProfile): UpdateMarkers {
  const markers: Partial<Record<MarkerName, RegExp>> = {};
  for (const key of Object.keys(DEFAULT_MARKERS) as MarkerName[]) {
    const source = os.update?.markers?.[key] ?? DEFAULT_MARKERS[key];
    // An empty pattern says the OS prints no such line.
    if (source === '') {
      if (REQUIRED_MARKERS.includes(key))
        throw new InputError(`${os.file}: update.markers.${key} cannot be empty: the suite needs it`, {
          file: os.file,
          field: `update.markers.${key}`,
        });
      continue;
    }
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
  return markers as UpdateMarkers;
}

export function updateSettings(os: OsProfile): UpdateSettings {
  const u = os.update ?? {};
  return {
    bundleDir: u.bundleDir ?? DEFAULTS.bundleDir,
    dataDir: u.dataDir ?? DEFAULTS.dataDir,
    bootenv: u.bootenv ?? DEFAULTS.bootenv,
    trialVariable: u.trialVariable ?? DEFAULTS.trialVariable,
    bootlimit:
      u.bootlimit !== undefined
        ? { value: u.bootlimit }
        : { variable: u.bootlimitVariable ?? DEFAULTS.bootlimitVariable },
    breadcrumbs: { ...DEFAULTS.breadcrumbs, ...u.breadcrumbs },
    repeatSameVersion: u.repeatSameVersion ?? 'harmless',
    sabotage: { ...u.sabotage },
    markers: compileMarkers(os),
  };
}

/** Quotes a value for a POSIX shell, unless it is plainly safe. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Fills a profile command template: `{name}` is replaced by the quoted value (`${name}` is the
 * shell's and left alone). A placeholder with no value is an error naming the command, except the
 * optional `{sha256}`, whose absence drops the word before it too (`--sha256 {sha256}` disappears
 * when no checksum is known).
 */
export function renderCommand(
  template: string,
  values: Record<string, string | undefined>,
  what = 'command',
): string {
  let out = template;
  if (values.sha256 === undefined) out = out.replace(/\s*\S*\s*(?<!\$)\{sha256\}/g, '');
  return out.replace(/(?<!\$)\{(\w+)\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined)
      throw new InputError(`OS profile ${what}: no value for {${name}} in "${template}"`, { field: what });
    return shellQuote(v);
  });
}
