import { errorMessage, type Verdict } from '../errors.js';
import type { TwoStageResult } from '../flash/two-stage.js';
import { logger } from '../log.js';
import type { StepRecord, TestResult } from '../report/model.js';
import type { LockInfo } from './lock.js';

const log = logger('events');

/**
 * What a run tells as it goes, as typed events: the library never prints, a reporter does (the
 * CLI's prints a line per event). Every handler is optional.
 */
export interface RunReporter {
  stepBegin?(board: string, step: string): void;
  stepEnd?(board: string, step: StepRecord): void;
  /** The board is held by another run: waiting up to `timeoutMs`. */
  lockWait?(board: string, holder: LockInfo | undefined, timeoutMs: number): void;
  /** The previous holder is gone: its lock is taken over. */
  lockTakeOver?(board: string, previous: LockInfo): void;
  /** A line from building the board's default image. */
  imageLog?(board: string, line: string): void;
  /** An infra failure, retried (`attempt` of `retries`). */
  retry?(board: string, what: 'flash' | 'boot', attempt: number, retries: number, why: string): void;
  /** A flasher board's flasher wrote internal storage; `marker` when the console told. */
  flasherDone?(board: string, stage: TwoStageResult, marker: string | undefined): void;
  testEnd?(board: string, result: TestResult): void;
  /** A report file the run goes on without (a full disk): `what` names it. */
  reportProblem?(board: string, what: 'allure-results' | 'serial.log', error: unknown): void;
  quarantined?(board: string, reason: string): void;
  runEnd?(board: string, verdict: Verdict, runDir: string): void;
}

/**
 * The one way events leave a run: to every reporter, each call guarded, so that a broken
 * reporter cannot kill the run (Playwright's reporter multiplexer).
 */
export class Multiplexer implements Required<RunReporter> {
  constructor(private readonly reporters: readonly RunReporter[]) {}

  private each(event: string, call: (r: RunReporter) => void): void {
    for (const r of this.reporters) {
      try {
        call(r);
      } catch (err) {
        log('reporter failed on %s: %s', event, errorMessage(err));
      }
    }
  }

  stepBegin(board: string, step: string): void {
    this.each('stepBegin', (r) => r.stepBegin?.(board, step));
  }
  stepEnd(board: string, step: StepRecord): void {
    this.each('stepEnd', (r) => r.stepEnd?.(board, step));
  }
  lockWait(board: string, holder: LockInfo | undefined, timeoutMs: number): void {
    this.each('lockWait', (r) => r.lockWait?.(board, holder, timeoutMs));
  }
  lockTakeOver(board: string, previous: LockInfo): void {
    this.each('lockTakeOver', (r) => r.lockTakeOver?.(board, previous));
  }
  imageLog(board: string, line: string): void {
    this.each('imageLog', (r) => r.imageLog?.(board, line));
  }
  retry(board: string, what: 'flash' | 'boot', attempt: number, retries: number, why: string): void {
    this.each('retry', (r) => r.retry?.(board, what, attempt, retries, why));
  }
  flasherDone(board: string, stage: TwoStageResult, marker: string | undefined): void {
    this.each('flasherDone', (r) => r.flasherDone?.(board, stage, marker));
  }
  testEnd(board: string, result: TestResult): void {
    this.each('testEnd', (r) => r.testEnd?.(board, result));
  }
  reportProblem(board: string, what: 'allure-results' | 'serial.log', error: unknown): void {
    this.each('reportProblem', (r) => r.reportProblem?.(board, what, error));
  }
  quarantined(board: string, reason: string): void {
    this.each('quarantined', (r) => r.quarantined?.(board, reason));
  }
  runEnd(board: string, verdict: Verdict, runDir: string): void {
    this.each('runEnd', (r) => r.runEnd?.(board, verdict, runDir));
  }
}
