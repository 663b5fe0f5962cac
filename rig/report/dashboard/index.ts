import { access, mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { relHref } from './escape.js';
import { renderPage } from './html.js';
import { loadReports, type BoardRuns } from './runs.js';

export { loadReports, readSummary, type BoardRuns, type RunRecord } from './runs.js';
export {
  matrix,
  trends,
  suiteVerdict,
  bootSeconds,
  type CellVerdict,
  type MatrixCell,
  type Trend,
} from './model.js';

export interface DashboardOptions {
  reportsDir: string;
  outDir: string;
  /** Runs per board in the trends (default 20). */
  last?: number;
  /** For reproducible output in tests. */
  now?: Date;
  /** Suites in report order (default: the built-in suites' manifests'). */
  suiteOrder?: readonly string[];
}

export interface DashboardResult {
  file: string;
  boards: BoardRuns[];
  /** Runs whose Allure report is not rendered: their cells link to summary.json instead. */
  withoutReport: string[];
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Writes `<outDir>/index.html`: the board x suite matrix of latest verdicts and per-board trends. */
async function builtinReportOrder(): Promise<string[]> {
  const { builtinSuites, reportOrder } = await import('../../catalog/suites.js');
  return reportOrder(await builtinSuites());
}

export async function writeDashboard(opts: DashboardOptions): Promise<DashboardResult> {
  const outDir = resolve(opts.outDir);
  const boards = await loadReports(opts.reportsDir);
  const reports = new Map<string, string>();
  const withoutReport: string[] = [];
  for (const b of boards) {
    for (const r of b.runs) {
      const index = join(r.dir, 'allure-report', 'index.html');
      if (await exists(index)) reports.set(r.dir, relHref(relative(outDir, index)));
      else withoutReport.push(`${b.board}/${r.summary.runId}`);
    }
  }
  const html = renderPage({
    boards,
    suiteOrder: opts.suiteOrder ?? (await builtinReportOrder()),
    last: opts.last ?? 20,
    generatedAt: (opts.now ?? new Date()).toISOString(),
    reportHref: (r) => reports.get(r.dir),
    summaryHref: (r) => relHref(relative(outDir, join(r.dir, 'summary.json'))),
  });
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, 'index.html');
  await writeFile(file, html);
  return { file, boards, withoutReport };
}
