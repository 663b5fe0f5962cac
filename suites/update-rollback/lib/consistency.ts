import type { BoardState } from './board-state.js';
import type { UpdateSettings } from './settings.js';

/**
 * After a power cut the board must run one of three states (issue 7, test 4): the old system,
 * uncommitted to anything new; the new system, committed; or the new system still on trial.
 * Anything else (the old slot with a trial pending, the new slot with the old version, a slot
 * that is neither) is an inconsistent system.
 */
export type ConsistentState = 'old' | 'new-committed' | 'new-trial';

export interface Judgement {
  state: ConsistentState | 'inconsistent';
  /** Why, in one line, for the report. */
  reason: string;
}

export function otherSlot(slot: string): string {
  if (slot === 'A') return 'B';
  if (slot === 'B') return 'A';
  if (slot === 'a') return 'b';
  if (slot === 'b') return 'a';
  return `not-${slot}`;
}

/**
 * Judges `after` against the state before the update and the version the bundle carries.
 * `trial` is read from the profile's trial variable: absent counts as committed (0).
 */
export function judgeAfterCut(
  before: BoardState,
  targetVersion: string,
  after: BoardState,
  settings: UpdateSettings,
): Judgement {
  const trial = after.bootenv[settings.trialVariable] ?? '0';
  const newSlot = otherSlot(before.slot);
  const where = `slot=${after.slot} version=${after.version} ${settings.trialVariable}=${trial}`;
  if (after.slot === before.slot) {
    if (after.version !== before.version) {
      return {
        state: 'inconsistent',
        reason: `${where}: the old slot ${before.slot} runs version ${after.version}, not ${before.version}`,
      };
    }
    if (trial !== '0')
      return { state: 'inconsistent', reason: `${where}: the old system is up but a trial is still pending` };
    return { state: 'old', reason: `${where}: the old system, nothing committed` };
  }
  if (after.slot !== newSlot)
    return { state: 'inconsistent', reason: `${where}: neither slot ${before.slot} nor ${newSlot}` };
  if (after.version !== targetVersion) {
    return {
      state: 'inconsistent',
      reason: `${where}: the new slot ${newSlot} runs ${after.version}, not the update's ${targetVersion}`,
    };
  }
  if (trial === '0') return { state: 'new-committed', reason: `${where}: the update, committed` };
  return { state: 'new-trial', reason: `${where}: the update, still on trial` };
}

/**
 * A rollback is complete when the board is back on the slot and version it ran before the update,
 * with nothing on trial. Returns the problems, empty when it is.
 */
export function rollbackProblems(before: BoardState, after: BoardState, settings: UpdateSettings): string[] {
  const problems: string[] = [];
  if (after.slot !== before.slot)
    problems.push(`active slot is ${after.slot}, expected ${before.slot} (the slot before the update)`);
  if (after.version !== before.version)
    problems.push(`version is ${after.version}, expected ${before.version}`);
  const trial = after.bootenv[settings.trialVariable];
  if (trial !== undefined && trial !== '0') problems.push(`${settings.trialVariable}=${trial}, expected 0`);
  return problems;
}

/** Breadcrumbs that appeared since `before` (the suite checks new ones, not ones left by earlier tests). */
export function newBreadcrumbs(before: BoardState, after: BoardState): string[] {
  return after.breadcrumbs.filter((b) => !before.breadcrumbs.includes(b));
}
