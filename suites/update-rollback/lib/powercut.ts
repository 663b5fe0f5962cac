import { randomInt } from 'node:crypto';
import { InputError } from '../../../rig/errors.js';

/**
 * Where a power cut can land in an update, in the order they happen (issue 7, test 4):
 * - `copy`: the rig is copying the bundle to the board;
 * - `write`: the update command is writing the inactive slot;
 * - `before-switch`: the write is over, the bootloader variables are not changed yet;
 * - `after-switch`: the variables point at the new slot, the board has not reset yet;
 * - `first-boot`: the first boot of the new slot, before its health check commits it.
 */
export const CUT_PHASES = ['copy', 'write', 'before-switch', 'after-switch', 'first-boot'] as const;
export type CutPhase = (typeof CUT_PHASES)[number];

export interface CutPoint {
  /** 1-based, in the order the cuts run. */
  index: number;
  phase: CutPhase;
  /** How far into the phase, as a fraction of its expected duration, in [0.05, 0.95). */
  fraction: number;
}

export interface CutPlan {
  seed: number;
  cuts: CutPoint[];
}

/** The regression runs one cut per phase. */
export const DEFAULT_CUTS = 5;
export const MAX_CUTS = 1000;

/** mulberry32: a tiny seeded PRNG, so a plan is the same on every machine and Node version. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Plans `count` cuts from `seed`. Every run of five consecutive cuts covers every phase once (so
 * the regression's five cover all of them, and a soak covers them evenly); within a phase the
 * cuts are stratified over its duration (the k-th of m cuts lands in the k-th m-th of the phase),
 * so a soak of many cuts sweeps each phase from start to end instead of clustering.
 */
export function planCuts(count: number, seed: number): CutPlan {
  if (!Number.isInteger(count) || count < 1 || count > MAX_CUTS) {
    throw new InputError(`--cuts must be a whole number from 1 to ${MAX_CUTS}, not ${count}`, {
      field: 'cuts',
    });
  }
  const rand = prng(seed);
  const phases: CutPhase[] = [];
  while (phases.length < count) phases.push(...shuffled(CUT_PHASES, rand));
  phases.length = count;

  const total = new Map<CutPhase, number>();
  for (const p of phases) total.set(p, (total.get(p) ?? 0) + 1);
  // Each phase's strata, visited in a shuffled order so the first cuts do not all land early.
  const strata = new Map<CutPhase, number[]>();
  for (const [p, m] of total) strata.set(p, shuffled([...Array(m).keys()], rand));

  const cuts = phases.map((phase, i) => {
    const m = total.get(phase)!;
    const k = strata.get(phase)!.pop()!;
    const within = (k + rand()) / m;
    return { index: i + 1, phase, fraction: round(0.05 + 0.9 * within) };
  });
  return { seed: seed >>> 0, cuts };
}

function round(x: number): number {
  return Math.min(0.9499, Math.round(x * 10000) / 10000);
}

/** `--seed`: decimal or 0x-hex, 32 bits; absent: a fresh random seed (printed, for replay). */
export function parseSeed(value: string | undefined): number {
  if (value === undefined || value === '') return randomInt(0, 2 ** 32);
  const v = value.trim();
  const n = /^0x[0-9a-f]{1,8}$/i.test(v) ? parseInt(v, 16) : /^\d{1,10}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) {
    throw new InputError(
      `--seed must be a 32-bit number (decimal or 0x hex), not "${value}": replay with the seed a report printed`,
      {
        field: 'seed',
      },
    );
  }
  return n;
}

/** `--cuts`: the number of cut points (default 5, the regression). */
export function parseCuts(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_CUTS;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_CUTS) {
    throw new InputError(`--cuts must be a whole number from 1 to ${MAX_CUTS}, not "${value}"`, {
      field: 'cuts',
    });
  }
  return n;
}

/** Expected duration of each phase on this board, in ms: measured on an uncut update where possible. */
export type PhaseDurations = Record<CutPhase, number>;

/**
 * Guesses used until an uncut update of this run has measured the phases: the copy at 2 MB/s,
 * the write at a quarter of the board's update timeout, a boot at 20 s (TCG). The switch windows
 * are short by nature (a sync, then the reset).
 */
export function defaultDurations(bundleBytes: number, updateTimeoutS: number): PhaseDurations {
  return {
    copy: Math.max(1000, Math.round(bundleBytes / 2000)),
    write: Math.max(2000, Math.round((updateTimeoutS * 1000) / 4)),
    'before-switch': 500,
    'after-switch': 1000,
    'first-boot': 20000,
  };
}

/** How long after its phase starts the cut falls. */
export function cutDelayMs(point: CutPoint, durations: PhaseDurations): number {
  return Math.round(point.fraction * durations[point.phase]);
}

export function describePlan(plan: CutPlan): string {
  const cuts = plan.cuts.map((c) => `#${c.index} ${c.phase}@${Math.round(c.fraction * 100)}%`).join(', ');
  return `power-cut plan seed=${plan.seed} (replay: --cuts ${plan.cuts.length} --seed ${plan.seed}): ${cuts}`;
}
