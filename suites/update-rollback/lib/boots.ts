import type { ConsoleLine } from '../../../rig/console/console.js';
import type { UpdateMarkers } from './settings.js';

/** One boot attempt, as the bootloader announced it on the console. */
export interface BootAttempt {
  /** The slot or deployment, when the bootloader names it (the same token as `commands.booted`). */
  slot?: string;
  /** Attempts so far, counting up (the reference OS). */
  bootcount?: number;
  /** Attempts left after this one, counting down (RAUC's U-Boot integration). */
  left?: number;
  /** The bootloader says this boot is a trial of an update (undefined: it does not say). */
  trial?: boolean;
  /** The console line, quoted in reports. */
  line: string;
  /** ms since the console opened */
  t: number;
}

export function parseBootAttempt(
  line: ConsoleLine,
  markers: Pick<UpdateMarkers, 'bootAttempt'>,
): BootAttempt | undefined {
  const m = markers.bootAttempt?.exec(line.text);
  if (!m) return undefined;
  const g = m.groups ?? {};
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  return {
    slot: g.slot,
    bootcount: num(g.bootcount),
    left: num(g.left),
    trial: g.trial === undefined ? undefined : g.trial !== '0',
    // From the marker on: GRUB's menu escapes can leave its banner on the same line.
    line: line.text.slice(m.index).trim(),
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
 * Splits a serial log into boots. A boot ends with a reset line (the kernel's or the
 * bootloader's), so the next one starts with the firmware's banner; a boot attempt with no reset
 * since the previous attempt (a power cut) starts a new one too. Lines before the first boot
 * belong to the boot that was running when the log began.
 */
export function splitBoots(
  lines: readonly ConsoleLine[],
  markers: Pick<UpdateMarkers, 'bootAttempt' | 'reset'>,
): ConsoleLine[][] {
  const boots: ConsoleLine[][] = [];
  let current: ConsoleLine[] = [];
  let attempted = false;
  const close = () => {
    if (current.length) boots.push(current);
    current = [];
    attempted = false;
  };
  for (const l of lines) {
    if (markers.bootAttempt?.test(l.text)) {
      if (attempted) close();
      attempted = true;
    }
    current.push(l);
    if (markers.reset.test(l.text)) close();
  }
  close();
  return boots;
}

export function formatLog(lines: readonly ConsoleLine[]): string {
  return lines.map((l) => `[${(l.t / 1000).toFixed(3).padStart(9)}] ${l.text}`).join('\n') + '\n';
}
