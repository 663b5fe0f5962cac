import path from 'node:path';
import { ROOT, loadYaml } from './schema.js';

/** How to talk to an OS under test; the reference OS is the default, `--os FILE` another one. */
export interface OsProfile {
  name: string;
  description?: string;
  console: {
    loginPrompt: string;
    user?: string | null;
    password?: string | null;
    passwordPrompt?: string;
    shellPrompt: string;
    loginFailed?: string;
  };
  ssh: { user: string; port: number; password?: string | null };
  commands: {
    version: string;
    /** Prints the token of the slot or deployment running now (the update suite's "booted"). */
    booted?: string;
    /** Old name of `booted`. */
    activeSlot?: string;
    /** Prints 1 while the booted system is on trial (not committed yet), 0 once committed. */
    trial?: string;
    /** Prints how many boots of a new system the bootloader attempts before falling back. */
    bootlimit?: string;
    /** Deletes `{file}` (default `rm -f {file}`): the update suite's bundle after each test. */
    remove?: string;
    bootenvGet?: string;
    breadcrumbs?: string;
    update?: string;
    reboot?: string;
    ipAddr?: string;
    /** Prints the sha256 of `{file}` as the first word (update suite: the data partition check). */
    sha256?: string;
    /** Removes the rollback breadcrumbs, so a test sees only the ones it caused. */
    clearBreadcrumbs?: string;
  };
  configure?: {
    method: 'fat-files' | 'none';
    partition?: number;
    files?: { hostname?: string; authorizedKeys?: string; wifi?: string; devMode?: string };
    wifiTemplate?: string;
  };
  defaultHostname?: string;
  /** The update suite's view of the OS; every field optional (defaults: the reference OS). */
  update?: {
    repeatSameVersion?: 'refused' | 'harmless';
    /** Where the bundle is copied on the board (default /tmp). */
    bundleDir?: string;
    /** A directory on the data partition, kept across updates (default /mnt/data). */
    dataDir?: string;
    /** Bootloader variables attached before and after each test. */
    bootenv?: string[];
    /** 1 while the new slot is on trial, 0 once committed (default upgrade_available). */
    trialVariable?: string;
    /** The bootloader's maximum number of boot attempts (default bootlimit). */
    bootlimitVariable?: string;
    /** The same as a number, when no variable holds it. */
    bootlimit?: number;
    /** Board-side commands run after the update installed and before the reboot. */
    sabotage?: { unbootable?: string; unhealthy?: string };
    /** Breadcrumb names (default: balenaOS's rollback-altboot-triggered, rollback-health-triggered). */
    breadcrumbs?: { altboot?: string; health?: string };
    /** Console patterns (regular expressions); see suites/update-rollback/lib/settings.ts for the defaults. */
    markers?: Partial<
      Record<
        | 'bootAttempt'
        | 'altboot'
        | 'userspace'
        | 'reset'
        | 'writing'
        | 'verifying'
        | 'switched'
        | 'committed'
        | 'bootFailed'
        | 'healthFailed',
        string
      >
    >;
  };
  file: string;
}

export const REFERENCE_OS = path.join(ROOT, 'os', 'profiles', 'reference.yaml');

export function loadOsProfile(file = REFERENCE_OS): OsProfile {
  return { ...loadYaml<Omit<OsProfile, 'file'>>(file, 'os.schema.json', 'OS profile'), file };
}
