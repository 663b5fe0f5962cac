import path from 'node:path';
import { missedSuites } from './miss.js';
import type { RunSummary } from './model.js';

const ORDER = ['pass', 'fail', 'error', 'infra', 'skipped', 'interrupted'] as const;

/**
 * What the CLI prints at the end of a run, per board: the verdict and the count of each, the tests
 * that did not pass, the suites that tested nothing (with why), and where the report is.
 */
export function summaryLines(summaries: RunSummary[], reportsDir: string, cwd = process.cwd()): string[] {
  const out: string[] = [];
  for (const s of summaries) {
    const counts = ORDER.map((v) => [v, s.tests.filter((t) => t.verdict === v).length] as const)
      .filter(([, n]) => n > 0)
      .map(([v, n]) => `${n} ${v}`)
      .join(', ');
    const why = s.message ?? (s.verdict === 'miss' ? 'nothing was tested' : undefined);
    out.push(`${s.board}: ${s.verdict.toUpperCase()} (${counts || 'no tests'})${why ? `: ${why}` : ''}`);
    for (const t of s.tests.filter((t) => t.verdict !== 'pass' && t.verdict !== 'skipped')) {
      out.push(`  ${t.verdict}: ${t.fullTitle}: ${t.message ?? ''}`);
    }
    for (const m of missedSuites(s)) out.push(`  miss: ${m.suite}: ${m.reason}`);
    out.push(`  report: ${path.relative(cwd, path.join(reportsDir, s.board, s.runId))}`);
  }
  return out;
}
