import path from 'node:path';
import { worst, type Verdict } from '../errors.js';
import type { RunSummary } from './model.js';
import { writeAtomic } from './summary.js';

export interface CombinedRow {
  board: string;
  verdict: Verdict;
  suites: Record<string, Verdict>;
  bootMs?: number;
  flashMbPerSecond?: number;
  report: string;
}

/** Board x suite: each suite's verdict is the worst of its tests'; a suite with no result is absent. */
export function combinedRows(summaries: RunSummary[], reportsDir: string): CombinedRow[] {
  return summaries.map((s) => {
    const suites: Record<string, Verdict> = {};
    for (const name of s.suites) {
      const tests = s.tests.filter((t) => t.suite === name);
      // A suite whose every test skipped checked nothing: it must never read as a pass (a miss in
      // a run that got through; after a failure, the failure's consequence).
      const through = s.verdict === 'pass' || s.verdict === 'miss';
      if (tests.length && tests.every((t) => t.verdict === 'skipped'))
        suites[name] = through ? 'miss' : 'skipped';
      else if (tests.length) suites[name] = worst(tests.map((t) => t.verdict));
      else suites[name] = through ? 'miss' : s.verdict;
    }
    return {
      board: s.board,
      verdict: s.verdict,
      suites,
      bootMs: s.bootMs,
      flashMbPerSecond: s.flash?.mbPerSecond,
      report: path.join(reportsDir, s.board, s.runId),
    };
  });
}

export function combinedTable(rows: CombinedRow[], suites: string[]): string[] {
  const head = ['BOARD', ...suites.map((s) => s.toUpperCase()), 'BOOT TIME', 'FLASH', 'VERDICT'];
  const body = rows.map((r) => [
    r.board,
    ...suites.map((s) => r.suites[s] ?? '-'),
    r.bootMs !== undefined ? `${(r.bootMs / 1000).toFixed(1)} s` : '-',
    r.flashMbPerSecond !== undefined ? `${r.flashMbPerSecond.toFixed(0)} MB/s` : '-',
    r.verdict.toUpperCase(),
  ]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((row) => row[i].length)));
  return [head, ...body].map((row) =>
    row
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
}

/** The nightly's one-glance result: `<reports>/combined-<stamp>.json` beside the per-board folders. */
export async function writeCombined(reportsDir: string, rows: CombinedRow[], stamp: string): Promise<string> {
  const file = path.join(reportsDir, `combined-${stamp}.json`);
  await writeAtomic(
    file,
    `${JSON.stringify({ schema: 1, createdAt: new Date().toISOString(), boards: rows }, null, 2)}\n`,
  );
  return file;
}
