import type { ConsoleLine } from '../console/console.js';
import type { UpdateMarkers } from './settings.js';

/** One boot attempt, as the bootloader announced it on the console. */
export interface BootAttempt {
  slot: string;
  bootcount?: number;
  /** The console line, quoted in reports. */
  line: string;
  /** ms since the console opened */
  t: number;
}

export function parseBootAttempt(
  line: ConsoleLine,
  markers: Pick<UpdateMarkers, 'bootAttempt'>,
): BootAttempt | undefined {
  const m = markers.bootAttempt.exec(line.text);
  if (!m) return undefined;
  const count = m.groups?.bootcount;
  return {
    slot: m.groups?.slot ?? '?',
    bootcount: count === undefined ? undefined : Number(count),
    line: line.text.trim(),
    t: line.t,
  };
}

export function bootAttempts(
  lines: readonly ConsoleLine[],
  markers: Pick<UpdateMarkers, 'bootAttempt'>,
): BootAttempt[] {
  return lines.map((l) => parseBootAttempt(l, markers)).filter((a): a is BootAttempt => a !== undefined);
}

export interface UserspaceUp {
  slot: string;
  version: string;
  line: string;
  t: number;
}

export function parseUserspace(
  line: ConsoleLine,
  markers: Pick<UpdateMarkers, 'userspace'>,
): UserspaceUp | undefined {
  const m = markers.userspace.exec(line.text);
  if (!m) return undefined;
  return {
    slot: m.groups?.slot ?? '?',
    version: m.groups?.version ?? '?',
    line: line.text.trim(),
    t: line.t,
  };
}

/**
 * Splits a serial log into boots: a boot starts at the line matching `bootStart` (the board's
 * bootloader marker); lines before the first one belong to the boot already running.
 */
export function splitBoots(lines: readonly ConsoleLine[], bootStart: RegExp): ConsoleLine[][] {
  const boots: ConsoleLine[][] = [];
  let current: ConsoleLine[] = [];
  for (const l of lines) {
    if (bootStart.test(l.text) && current.length > 0) {
      boots.push(current);
      current = [];
    }
    current.push(l);
  }
  if (current.length > 0) boots.push(current);
  return boots;
}

export function formatLog(lines: readonly ConsoleLine[]): string {
  return lines.map((l) => `[${(l.t / 1000).toFixed(3).padStart(9)}] ${l.text}`).join('\n') + '\n';
}
