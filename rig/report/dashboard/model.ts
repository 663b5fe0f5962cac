import { worst, type Verdict } from '../../errors.js';
import type { RunSummary, TestResult } from '../model.js';
import type { BoardRuns, RunRecord } from './runs.js';

/** What a matrix cell shows: a suite's verdict in a board's latest run, or that it did not run. */
export type CellVerdict = Verdict | 'not-run';

export interface MatrixCell {
  board: string;
  suite: string;
  verdict: CellVerdict;
  run: RunRecord;
  counts: Partial<Record<Verdict, number>>;
  /** The first non-pass message, for the cell's tooltip. */
  message?: string;
}

export interface TrendPoint {
  runId: string;
  startedAt: string;
  verdict: Verdict;
  /** Absent when the run did not measure it (the board never reached login, the suite did not run). */
  value?: number;
}

export interface TrendSeries {
  name: string;
  points: TrendPoint[];
}

export interface Trend {
  id: 'boot' | 'flash' | 'duration';
  title: string;
  unit: string;
  series: TrendSeries[];
}

/** Suites in `order` (their manifests' report order, rig/catalog/suites.ts) first, the rest by name. */
export function orderSuites(names: Iterable<string>, order: readonly string[] = []): string[] {
  const rank = (s: string) => {
    const i = order.indexOf(s);
    return i < 0 ? order.length : i;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * A suite's verdict: the worst of its tests that ran. When nothing in it ran: `miss` in a run that
 * got through (it tested nothing: never a pass), `skipped` after a problem the run reports (a
 * failed boot leaves nothing to test), so a skipped check can never make a suite look green.
 */
export function suiteVerdict(summary: RunSummary, suite: string): CellVerdict {
  const tests = summary.tests.filter((t) => t.suite === suite);
  const through = summary.verdict === 'pass' || summary.verdict === 'miss';
  if (tests.length === 0) {
    if (!summary.suites.includes(suite)) return 'not-run';
    // Requested but never reached: the run stopped before the suites (a rig problem, an abort).
    return through ? 'miss' : summary.verdict;
  }
  const ran = tests.filter((t) => t.verdict !== 'skipped');
  if (ran.length > 0) return worst(ran.map((t) => t.verdict));
  return through ? 'miss' : 'skipped';
}

function counts(tests: TestResult[]): Partial<Record<Verdict, number>> {
  const c: Partial<Record<Verdict, number>> = {};
  for (const t of tests) c[t.verdict] = (c[t.verdict] ?? 0) + 1;
  return c;
}

export function matrix(
  boards: BoardRuns[],
  order: readonly string[] = [],
): { suites: string[]; rows: MatrixCell[][] } {
  const suites = orderSuites(
    boards.flatMap((b) => [...b.latest.summary.suites, ...b.latest.summary.tests.map((t) => t.suite)]),
    order,
  );
  const rows = boards.map((b) =>
    suites.map((suite): MatrixCell => {
      const s = b.latest.summary;
      const tests = s.tests.filter((t) => t.suite === suite);
      const message =
        tests.find((t) => t.verdict !== 'pass')?.message ?? tests.find((t) => t.skipReason)?.skipReason;
      return {
        board: b.board,
        suite,
        verdict: suiteVerdict(s, suite),
        run: b.latest,
        counts: counts(tests),
        ...(message ? { message } : {}),
      };
    }),
  );
  return { suites, rows };
}

/** Boot time: the recorded bootMs, else the `login` stage's time since power on. */
export function bootSeconds(s: RunSummary): number | undefined {
  const ms = s.bootMs ?? s.stages.find((st) => /^login$/i.test(st.stage))?.atMs;
  return ms === undefined ? undefined : ms / 1000;
}

/** Flash throughput; a run that wrote nothing (image already on the card) measured nothing. */
export function flashMBps(s: RunSummary): number | undefined {
  return s.flash && s.flash.bytesWritten > 0 ? s.flash.mbPerSecond : undefined;
}

export function suiteSeconds(s: RunSummary, suite: string): number | undefined {
  const ran = s.tests.filter((t) => t.suite === suite && t.verdict !== 'skipped');
  return ran.length === 0 ? undefined : ran.reduce((a, t) => a + t.durationMs, 0) / 1000;
}

function series(name: string, runs: RunRecord[], value: (s: RunSummary) => number | undefined): TrendSeries {
  return {
    name,
    points: runs.map(({ summary: s }) => {
      const v = value(s);
      return {
        runId: s.runId,
        startedAt: s.startedAt,
        verdict: s.verdict,
        ...(v === undefined ? {} : { value: v }),
      };
    }),
  };
}

/** Per-board trends over the last `last` runs: one point per run in every series. */
export function trends(b: BoardRuns, last: number, order: readonly string[] = []): Trend[] {
  const runs = b.runs.slice(-last);
  const suites = orderSuites(
    runs.flatMap((r) => r.summary.suites),
    order,
  );
  return [
    {
      id: 'boot',
      title: 'Boot time (power on to login)',
      unit: 's',
      series: [series('boot', runs, bootSeconds)],
    },
    {
      id: 'flash',
      title: 'Flash throughput',
      unit: 'MB/s',
      series: [series('flash', runs, flashMBps)],
    },
    {
      id: 'duration',
      title: 'Suite duration',
      unit: 's',
      series: suites.map((suite) => series(suite, runs, (s) => suiteSeconds(s, suite))),
    },
  ];
}
