import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { classOf, countsAgainstBoard, errorMessage } from '../errors.js';
import type { RunSummary, StageTiming, StepRecord } from '../report/model.js';
import { writeRunReports } from '../report/summary.js';
import type { RunBase } from './context.js';
import { clearQuarantine, healthPath, recordVerdict } from './health.js';
import { runExitCode, runVerdict } from './verdict.js';

export interface RunEnd {
  runId: string;
  started: Date;
  /** The runner's steps and teardowns. */
  steps: readonly StepRecord[];
  runError: unknown;
}

/** The report: summary.json, JUnit, serial.log; written whatever happened, even when interrupted. */
export async function finishRun(base: RunBase, end: RunEnd): Promise<RunSummary> {
  const summary = buildSummary(base, end);
  await saveSerialLog(base);
  await writeRunReports(base.runDir, summary, { latest: !refused(base, end.runError) });
  base.events.runEnd(base.board.name, summary.verdict, base.runDir);
  await stat(base.runDir);
  return summary;
}

/**
 * A run refused before it reached the board: bad input, a quarantined board, a busy one (or a
 * download server that failed it: not the board's fault either). Its report is written, but
 * `reports/<board>/latest` stays on the last run that tested the board.
 */
export function refused({ facts }: RunBase, runError: unknown): boolean {
  if (facts.instance !== undefined || runError === undefined) return false;
  const cls = classOf(runError);
  return facts.quarantined || cls === 'input' || (cls === 'infra' && !countsAgainstBoard(runError));
}

export function buildSummary({ board, opts, facts, suites }: RunBase, end: RunEnd): RunSummary {
  const verdict = runVerdict({
    suites: suites.map((s) => s.name),
    tests: facts.tests,
    runError: end.runError,
    aborted: opts.signal.aborted,
  });
  const finished = new Date();
  return {
    schema: 1,
    runId: end.runId,
    board: board.name,
    boardType: board.type.name,
    host: os.hostname(),
    startedAt: end.started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - end.started.getTime(),
    verdict,
    exitCode: runExitCode(verdict, end.runError),
    image: {
      path: facts.image?.source ?? opts.image ?? '',
      sha256: facts.image?.sha256,
      fromCache: facts.image?.fromCache,
      version: facts.image?.version,
      sizeBytes: facts.image?.sizeBytes,
    },
    suites: suites.map((s) => s.name),
    tests: facts.tests,
    steps: mergeSteps(end.steps, facts.instance?.steps ?? []),
    stages: stageTimings(facts.boot?.timings),
    bootMs: facts.boot?.timings.get('login'),
    flash: facts.flash,
    findings: (facts.instance?.console.findings ?? []).map((x) => ({
      severity: x.severity,
      pattern: x.pattern,
      line: x.line.text,
    })),
    reproduce: opts.reproduce,
    message: end.runError ? errorMessage(end.runError) : undefined,
  };
}

/** A lab board records its power and mux actions: merged in time order, a step nested in another
 * (started the same ms) before it. */
function mergeSteps(run: readonly StepRecord[], board: readonly StepRecord[]): StepRecord[] {
  return [...run, ...board].sort(
    (a, b) => a.startedAt.localeCompare(b.startedAt) || a.durationMs - b.durationMs,
  );
}

function stageTimings(timings: ReadonlyMap<string, number> | undefined): StageTiming[] {
  const stages: StageTiming[] = [];
  let prev = 0;
  for (const [stage, at] of timings ?? []) {
    stages.push({ stage, atMs: at, durationMs: at - prev });
    prev = at;
  }
  return stages;
}

async function saveSerialLog({ board, facts, events, runDir }: RunBase): Promise<void> {
  const console = facts.instance?.console;
  try {
    await console?.saveLog?.(path.join(runDir, 'serial.log'));
  } catch (err) {
    events.reportProblem(board.name, 'serial.log', err);
  }
}

/** The board's health on this host: counted under its lock, lifted by a passed health check. */
export async function recordHealth(
  { board, opts, facts, events }: RunBase,
  summary: RunSummary,
  runError: unknown,
): Promise<void> {
  if (facts.quarantined || summary.verdict === 'interrupted') return;
  const file = healthPath(opts.env);
  if (opts.healthCheck && summary.verdict === 'pass') return clearQuarantine(file, board.name);
  // Only the rig's own faults count: not a busy board, not a download server (boardFault: false).
  const strike = summary.tests.some((t) => t.verdict === 'infra') || countsAgainstBoard(runError);
  const h = await recordVerdict(
    file,
    board.name,
    summary.verdict,
    summary.message ?? firstProblem(summary),
    opts.quarantineAfter,
    { strike },
  );
  if (h.quarantined && summary.verdict === 'infra') events.quarantined(board.name, h.reason ?? '');
}

function firstProblem(s: RunSummary): string | undefined {
  const t = s.tests.find((x) => x.verdict === s.verdict);
  return t ? `${t.fullTitle}: ${t.message ?? ''}` : undefined;
}
