import type { BoardType } from './board.js';
import type { OsProfile, OsTimeouts } from './os-profile.js';
import { InputError } from '../errors.js';

export type TimeoutKey = keyof OsTimeouts;
export type MarkerKey = 'bootloader' | 'kernel' | 'userspace';

export const TIMEOUT_KEYS: readonly TimeoutKey[] = [
  'bootloader',
  'kernel',
  'userspace',
  'login',
  'command',
  'dhcp',
  'mdns',
  'ssh',
  'update',
  'rollback',
];

/** Where a run's limit or marker comes from, for a message that says how to change it. */
export interface Origins {
  timeouts: Partial<Record<TimeoutKey, string>>;
  markers: Partial<Record<MarkerKey, string>>;
}

/** A board type as one run sees it: the OS profile's and the command line's timeouts and markers applied. */
export type EffectiveBoardType = BoardType & { origins?: Origins };

/** `--timeout login=300,userspace=200`: stage names and seconds. */
export function parseTimeoutOption(text: string, option = '--timeout'): OsTimeouts {
  const out: OsTimeouts = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z]+)=(\d+(?:\.\d+)?)$/.exec(part);
    const key = m?.[1] as TimeoutKey | undefined;
    if (!m || !key || !TIMEOUT_KEYS.includes(key) || Number(m[2]) <= 0)
      throw new InputError(
        `${option} ${text}: expected STAGE=SECONDS[,STAGE=SECONDS...] with STAGE one of ${TIMEOUT_KEYS.join(', ')} (e.g. ${option} login=300)`,
        { field: option },
      );
    out[key] = Number(m[2]);
  }
  return out;
}

/**
 * The board type with the OS profile's timeouts and markers over the board type's, and the
 * command line's timeouts over both; each value remembers where it came from.
 */
export function effectiveBoardType(
  type: BoardType,
  os: OsProfile,
  overrides: OsTimeouts = {},
  option = '--timeout',
): EffectiveBoardType {
  const device = os.console.device;
  if (device && device !== type.serial.uart)
    // The rig watches the board's serial console only: a login prompt elsewhere never comes.
    throw new InputError(
      `${os.file}: console.device says the OS shows its login prompt on ${device}, but ${type.name}'s serial console is ${type.serial.uart} (serial.uart in ${type.file}): make the OS start a getty on ${type.serial.uart} (console=${type.serial.uart} on its kernel command line), or correct console.device`,
      { file: os.file, field: 'console.device' },
    );
  const origins: Origins = { timeouts: {}, markers: {} };
  const timeouts = { ...type.timeouts } as Record<string, number | undefined>;
  for (const k of TIMEOUT_KEYS) {
    if (timeouts[k] !== undefined) origins.timeouts[k] = `the board type ${type.file}`;
    const fromOs = os.timeouts?.[k];
    if (fromOs !== undefined) {
      timeouts[k] = fromOs;
      origins.timeouts[k] = `the OS profile ${os.file}`;
    }
    if (overrides[k] !== undefined) {
      timeouts[k] = overrides[k];
      origins.timeouts[k] = `the option ${option} ${k}=${overrides[k]}`;
    }
  }
  const markers = { ...type.markers };
  for (const k of ['bootloader', 'kernel', 'userspace'] as const) {
    origins.markers[k] = `the board type ${type.file}`;
    const m = os.markers?.[k];
    if (m !== undefined) {
      markers[k] = m;
      origins.markers[k] = `the OS profile ${os.file}`;
    }
  }
  return { ...type, timeouts: timeouts as BoardType['timeouts'], markers, origins };
}

/**
 * How a limit was set and how to change it: `timeouts.login = 60 s from the board type
 * boards/qemu-x86-64.yaml; raise it with timeouts.login in the OS profile or --timeout login=S`.
 */
export function timeoutHint(type: EffectiveBoardType, key: TimeoutKey): string {
  const value = (type.timeouts as Record<string, number | undefined>)[key];
  const from = type.origins?.timeouts[key] ?? `the board type ${type.file}`;
  return `timeouts.${key} = ${value ?? '?'} s from ${from}; change it with timeouts.${key} in the OS profile or --timeout ${key}=SECONDS`;
}

export function markerHint(type: EffectiveBoardType, key: MarkerKey): string {
  const from = type.origins?.markers[key] ?? `the board type ${type.file}`;
  return `markers.${key} /${type.markers[key]}/ from ${from}`;
}
