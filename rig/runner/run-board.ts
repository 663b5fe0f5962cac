import { errorMessage } from '../errors.js';
import { logger } from '../log.js';
import type { RunSummary } from '../report/model.js';
import { createRunDir, newRunId } from '../report/summary.js';
import type { BoardRunOptions, RunBase } from './context.js';
import { Multiplexer } from './events.js';
import { finishRun, recordHealth } from './finish.js';
import { loadSuites, suiteNeeds } from '../catalog/suites.js';
import { StepLog } from '../util/steps.js';
import { TaskList, TaskRunner } from './task-runner.js';
import * as task from './tasks.js';

export type { BoardRunOptions } from './context.js';
export { withInfraRetries } from './retry.js';

const log = logger('run');

/**
 * One board, one run: reserve, prepare, network, open the board, access point, flash, flasher
 * stage, boot and suites, each a task with its teardown; then the report and the board's health.
 * Teardowns run in reverse order whatever happens, and the report is written even when the run
 * is interrupted.
 */
const RUN = TaskList.start<RunBase>()
  .then(task.quarantineCheck)
  .then(task.reserve)
  .then(task.workCopy)
  .then(task.accessPointPlan)
  .then(task.prepare)
  .then(task.network)
  .then(task.open)
  .then(task.accessPoint)
  .then(task.flash)
  .then(task.flasherStage)
  .then(task.bootSession)
  .then(task.suites)
  .then(task.notInterrupted);

export async function runBoard(opts: BoardRunOptions): Promise<RunSummary> {
  const { board } = opts;
  const started = new Date();
  const runId = newRunId(started);
  const suites = await loadSuites(opts.suites);
  const events = new Multiplexer(opts.reporters);
  const base: RunBase = {
    board,
    opts,
    suites,
    needs: suiteNeeds(suites, board.type, opts.os),
    runDir: await createRunDir(opts.reportsDir, board.name, runId),
    events,
    facts: { tests: [], quarantined: false },
  };
  const steps = new StepLog({
    begin: (name) => events.stepBegin(board.name, name),
    end: (record) => events.stepEnd(board.name, record),
  });
  const runner = new TaskRunner(steps);
  let runError: unknown;
  try {
    await RUN.run(base, runner);
  } catch (err) {
    runError = err;
    log('run failed: %s', errorMessage(err));
  } finally {
    await runner.teardown();
  }
  const summary = await finishRun(base, { runId, started, steps: steps.records, runError });
  await recordHealth(base, summary, runError);
  return summary;
}
