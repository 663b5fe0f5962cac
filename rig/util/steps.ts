import { HwTestError, errorMessage, verdictOf, type Verdict } from '../errors.js';
import { logger } from '../log.js';
import type { StepRecord } from '../report/model.js';

const log = logger('steps');

/** Told as each step starts and ends (the CLI prints a line for each; summary.json keeps them). */
export interface StepObserver {
  begin?(name: string): void;
  end?(record: StepRecord): void;
}

/**
 * The one step primitive: a named piece of work, timed, with its verdict recorded whether it
 * passes or throws (the error is rethrown). The runner's tasks and teardowns and a lab board's
 * power and mux actions are all steps of this kind.
 */
export class StepLog {
  readonly records: StepRecord[] = [];

  constructor(private readonly observer: StepObserver = {}) {}

  /** `unknownErrors`: the verdict of a failure that carries no class (a teardown's is the rig's). */
  async run<T>(name: string, work: () => Promise<T>, unknownErrors?: Verdict): Promise<T> {
    const startedAt = new Date();
    this.observer.begin?.(name);
    const record = (verdict: Verdict, message?: string) =>
      this.add({
        name,
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - startedAt.getTime(),
        verdict,
        message,
      });
    try {
      const value = await work();
      record('pass');
      return value;
    } catch (err) {
      const classless = unknownErrors !== undefined && !(err instanceof HwTestError);
      record(classless ? unknownErrors : verdictOf(err), errorMessage(err));
      throw err;
    }
  }

  private add(r: StepRecord): void {
    this.records.push(r);
    this.observer.end?.(r);
  }
}

/** What undoes a task (or a part of a board): a name for the report and the work. */
export interface Teardown {
  readonly step: string;
  run(): Promise<void>;
}

export const TEARDOWN_DEADLINE_MS = 30_000;

/**
 * The one teardown runner: every teardown runs, last registered first, each bounded by its
 * deadline so a stuck one cannot hold the board. Failures are recorded (when a log is given) and
 * returned, never thrown over the run's own result.
 */
export async function runTeardowns(
  teardowns: readonly Teardown[],
  opts: { log?: StepLog; deadlineMs?: number } = {},
): Promise<unknown[]> {
  const deadlineMs = opts.deadlineMs ?? TEARDOWN_DEADLINE_MS;
  const errors: unknown[] = [];
  for (const t of [...teardowns].reverse()) {
    const bounded = () => withDeadline(t, deadlineMs);
    try {
      await (opts.log ? opts.log.run(t.step, bounded, 'infra') : bounded());
    } catch (err) {
      log('teardown %s failed: %s', t.step, errorMessage(err));
      errors.push(err);
    }
  }
  return errors;
}

async function withDeadline(t: Teardown, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`teardown "${t.step}" did not finish within ${ms / 1000} s`)),
      ms,
    );
  });
  try {
    await Promise.race([t.run(), late]);
  } finally {
    clearTimeout(timer);
  }
}
