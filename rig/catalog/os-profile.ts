import { homedir } from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import { registerSecret } from '../log.js';
import { ROOT, loadYaml } from './schema.js';

/** Where a provisioned item goes: a path, or a path with its mode and owner (ext-files). */
export type FileSpec = string | { path: string; mode?: string; owner?: string };

export type ConfigItem = 'hostname' | 'authorizedKeys' | 'wifi' | 'devMode';

export type ConfigureMethod = 'fat-files' | 'ext-files' | 'json-config' | 'rpi-boot' | 'none';

export type NetworkTool = 'ip' | 'getent' | 'resolvectl' | 'nslookup' | 'ping' | 'sha256sum';

/** Timeouts an OS profile (or `--timeout`) may set, in seconds: the board type's keys. */
export type OsTimeouts = Partial<
  Record<
    | 'bootloader'
    | 'kernel'
    | 'userspace'
    | 'login'
    | 'command'
    | 'dhcp'
    | 'mdns'
    | 'ssh'
    | 'update'
    | 'rollback',
    number
  >
>;

/**
 * How to talk to an OS under test; the reference OS is the default, `--os FILE` another one.
 * boards/schema/os.schema.json documents every field and fills in the defaults on load.
 */
export interface OsProfile {
  name: string;
  description?: string;
  console: {
    /** The tty on which the OS shows its login prompt, when the profile says. */
    device?: string;
    loginPrompt: string;
    user?: string | null;
    password?: string | null;
    passwordEnv?: string;
    passwordPrompt?: string;
    shellPrompt: string;
    loginFailed?: string;
  };
  ssh: { user: string; port: number; password?: string | null; passwordEnv?: string; key?: string };
  defaultHostname?: string;
  /** Stage markers replacing the board type's (the OS's bootloader and init print them). */
  markers?: { bootloader?: string; kernel?: string; userspace?: string };
  timeouts?: OsTimeouts;
  /** What the OS promises on the network; the network suite skips what is not promised. */
  network?: {
    interface?: string;
    dhcpHostname?: boolean;
    mdns?: { hostname?: boolean; services?: string[] };
    tools?: NetworkTool[];
  };
  commands: {
    version: string;
    /** Prints the hostname the OS gave itself (for a name neither configured nor known in advance). */
    hostname?: string;
    activeSlot?: string;
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
    method: ConfigureMethod;
    /** A number, or a GPT partition label or filesystem label. */
    partition?: number | string;
    files?: Partial<Record<ConfigItem, FileSpec>>;
    wifiTemplate?: string;
    json?: {
      file: string;
      fields: Partial<Record<'hostname' | 'authorizedKeys' | 'devMode' | 'wifiSsid' | 'wifiPsk', string>>;
    };
    rpi?: { user?: string; wifiCountry?: string };
  };
  /** The OS's name for the WiFi interface (default: the board type's, else `wlan0`). */
  wifi?: { interface?: string };
  /** The services the OS promises to run once booted, and how to tell one runs (default `pidof {name}`). */
  services?: { running: string[]; check?: string };
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
    /** Breadcrumb names (default: balenaOS's rollback-altboot-triggered, rollback-health-triggered). */
    breadcrumbs?: { altboot?: string; health?: string };
    /** Console patterns (regular expressions); see rig/update/settings.ts for the defaults. */
    markers?: Partial<
      Record<
        | 'bootAttempt'
        | 'altboot'
        | 'userspace'
        | 'reset'
        | 'writing'
        | 'verifying'
        | 'switched'
        | 'committed',
        string
      >
    >;
  };
  file: string;
}

export const REFERENCE_OS = path.join(ROOT, 'os', 'profiles', 'reference.yaml');

/**
 * Passwords shorter than this are not masked: they would mask ordinary words everywhere (the
 * reference OS's console password is also its hostname). A real secret comes from `passwordEnv`.
 */
export const MASKED_PASSWORD_LENGTH = 8;

function resolvePassword(
  literal: string | null | undefined,
  envName: string | undefined,
  field: string,
  file: string,
  env: NodeJS.ProcessEnv,
): string | null | undefined {
  if (envName === undefined) {
    if (literal && literal.length >= MASKED_PASSWORD_LENGTH) registerSecret(literal);
    return literal;
  }
  const value = env[envName];
  if (value === undefined)
    throw new InputError(`${file}: ${field}Env names ${envName}, which is not set in the environment`, {
      file,
      field: `${field}Env`,
    });
  registerSecret(value);
  return value;
}

/** `ssh.key` relative to the profile's folder, `~` being the home directory. */
function resolveKeyPath(key: string | undefined, file: string): string | undefined {
  if (!key) return undefined;
  if (key === '~' || key.startsWith('~/')) return path.join(homedir(), key.slice(1));
  return path.resolve(path.dirname(file), key);
}

export function loadOsProfile(file = REFERENCE_OS, env: NodeJS.ProcessEnv = process.env): OsProfile {
  const p = { ...loadYaml<Omit<OsProfile, 'file'>>(file, 'os.schema.json', 'OS profile'), file };
  p.console.password = resolvePassword(
    p.console.password,
    p.console.passwordEnv,
    'console.password',
    file,
    env,
  );
  p.ssh.password = resolvePassword(p.ssh.password, p.ssh.passwordEnv, 'ssh.password', file, env);
  p.ssh.key = resolveKeyPath(p.ssh.key, file);
  return p;
}
