import { classOf, exitCodeFor, verdictOf, worst, type Verdict } from '../errors.js';
import { withMiss } from '../report/miss.js';
import type { TestResult } from '../report/model.js';

/**
 * The run's verdict, in one place: the worst of its tests and of what stopped it. A run that
 * ran no test and met no error checked nothing, which is never a pass; nor is a run that got
 * through while a requested suite tested nothing (every test skipped: the board or the inputs
 * could not support it): that is a MISS (exit 4), with the missed suites in summary.json.
 */
export function runVerdict(o: {
  suites: readonly string[];
  tests: readonly TestResult[];
  runError: unknown;
  aborted: boolean;
}): Verdict {
  const verdicts: Verdict[] = o.tests.map((t) => t.verdict);
  if (o.runError) verdicts.push(verdictOf(o.runError));
  if (o.aborted) verdicts.push('interrupted');
  if (o.tests.length === 0 && !o.runError) verdicts.push('error');
  return withMiss(worst(verdicts), { suites: [...o.suites], tests: [...o.tests] });
}

/** Bad input found mid-run (a corrupt image) is still bad input: exit 2, unless interrupted. */
export function runExitCode(verdict: Verdict, runError: unknown): number {
  return classOf(runError) === 'input' && verdict !== 'interrupted' ? 2 : exitCodeFor(verdict);
}
