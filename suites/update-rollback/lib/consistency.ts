import type { BoardState } from './board-state.js';

/**
 * The suite's judgements, the same for A/B slots and OSTree deployments: the booted system is an
 * opaque token, and "new" is any token other than the one booted before the update. Nothing here
 * knows how many slots there are or what the other one is called.
 *
 * After a power cut the board must run one of three states (issue 7, test 4): the old system,
 * uncommitted to anything new; the new system, committed; or the new system still on trial.
 * Anything else (the old system with a trial pending, a new system with a version that is not the
 * update's) is an inconsistent system.
 */
export type ConsistentState = 'old' | 'new-committed' | 'new-trial';

export interface Judgement {
  state: ConsistentState | 'inconsistent';
  /** Why, in one line, for the report. */
  reason: string;
}

function where(s: BoardState): string {
  return `booted=${s.booted} version=${s.version} trial=${s.trial ? 1 : 0}`;
}

/**
 * Judges `after` against the state before the update and the version the bundle carries
 * (undefined when the run does not know it: any version other than the old one is then accepted
 * for a new system, and the reason says the version was not checked).
 */
export function judgeAfterCut(
  before: BoardState,
  targetVersion: string | undefined,
  after: BoardState,
): Judgement {
  const at = where(after);
  if (after.booted === before.booted) {
    if (after.version !== before.version) {
      return {
        state: 'inconsistent',
        reason: `${at}: the system that ran before (${before.booted}) now runs version ${after.version}, not ${before.version}: the update wrote the running system`,
      };
    }
    if (after.trial)
      return { state: 'inconsistent', reason: `${at}: the old system is up but a trial is still pending` };
    return { state: 'old', reason: `${at}: the old system, nothing committed` };
  }
  if (targetVersion !== undefined && after.version !== targetVersion) {
    return {
      state: 'inconsistent',
      reason: `${at}: a new system (${after.booted}, was ${before.booted}) runs ${after.version}, not the update's ${targetVersion}`,
    };
  }
  const unchecked = targetVersion === undefined ? ' (the bundle version is unknown: not checked)' : '';
  if (!after.trial) return { state: 'new-committed', reason: `${at}: the update, committed${unchecked}` };
  return { state: 'new-trial', reason: `${at}: the update, still on trial${unchecked}` };
}

/**
 * A completed update runs another slot or deployment than before, the bundle's version (when
 * known), committed. Returns the problems, empty when it is.
 */
export function updateProblems(
  before: BoardState,
  after: BoardState,
  targetVersion: string | undefined,
): string[] {
  const problems: string[] = [];
  if (after.booted === before.booted)
    problems.push(
      `the board still runs ${after.booted}, the slot or deployment that ran before the update: the update did not switch, or wrote the running system`,
    );
  if (targetVersion !== undefined && after.version !== targetVersion)
    problems.push(`version is ${after.version}, expected the update's ${targetVersion}`);
  if (after.trial) problems.push('the update is still on trial: its health check did not commit it');
  return problems;
}

/**
 * A rollback is complete when the board is back on the system and version it ran before the
 * update, with nothing on trial. Returns the problems, empty when it is.
 */
export function rollbackProblems(before: BoardState, after: BoardState): string[] {
  const problems: string[] = [];
  if (after.booted !== before.booted)
    problems.push(`the board runs ${after.booted}, expected ${before.booted} (the system before the update)`);
  if (after.version !== before.version)
    problems.push(`version is ${after.version}, expected ${before.version}`);
  if (after.trial) problems.push('a trial is still pending, expected none');
  return problems;
}

/** Breadcrumbs that appeared since `before` (the suite checks new ones, not ones left by earlier tests). */
export function newBreadcrumbs(before: BoardState, after: BoardState): string[] {
  return after.breadcrumbs.filter((b) => !before.breadcrumbs.includes(b));
}
