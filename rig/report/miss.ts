import type { Verdict } from '../errors.js';
import type { RunSummary } from './model.js';

export interface Missed {
  suite: string;
  reason: string;
}

/**
 * The requested suites that tested nothing in a run that got through: every test of the suite
 * skipped (the board lacks a capability it needs: the reasons say which), or none of its tests
 * ran at all. In a run that failed, broke or was stopped, suites skipped after the problem are its
 * consequence (a boot that failed leaves nothing to test), and the run is that problem, not a miss.
 */
export function missedSuites(s: Pick<RunSummary, 'suites' | 'tests' | 'verdict'>): Missed[] {
  const out: Missed[] = [];
  if (s.verdict !== 'pass' && s.verdict !== 'miss') return out;
  for (const suite of s.suites) {
    const tests = s.tests.filter((t) => t.suite === suite);
    if (tests.some((t) => t.verdict !== 'skipped')) continue;
    const reasons = [...new Set(tests.map((t) => t.skipReason ?? 'skipped'))];
    out.push({ suite, reason: reasons.length ? reasons.join('; ') : 'no test of this suite ran' });
  }
  return out;
}

/** A run's verdict with MISS: a pass in which a requested suite tested nothing is not a pass. */
export function withMiss(verdict: Verdict, s: Pick<RunSummary, 'suites' | 'tests'>): Verdict {
  if (verdict !== 'pass') return verdict;
  return missedSuites({ ...s, verdict }).length > 0 ? 'miss' : 'pass';
}
