import { StepLog, runTeardowns, type Teardown } from '../util/steps.js';

/**
 * One task of a run, with its teardown registered together with it (Playwright's taskRunner is
 * the model). Its output is merged into the context the next tasks get, typed: a later task
 * reads an earlier one's result as a plain field.
 */
export interface Task<In extends object, Out extends object> {
  /** The step this task is, in progress lines and summary.json; none: plumbing, not a step. */
  readonly step?: string;
  /** When the run does not need the task: the output it stands for (no step, no teardown). */
  skip?(ctx: In): Out | undefined;
  setup(ctx: In): Promise<Out>;
  /**
   * What undoes the task, registered once its setup resolved (a setup that fails half way cleans
   * up after itself, or follows a teardown-only task, as the work copy's removal does).
   */
  teardown?(ctx: In & Out): Teardown | undefined;
}

/** Runs tasks in order, recording steps, and keeps their teardowns for the end. */
export class TaskRunner {
  private readonly teardowns: Teardown[] = [];

  constructor(readonly log: StepLog) {}

  async perform<C extends object, O extends object>(task: Task<C, O>, ctx: C): Promise<C & O> {
    const skipped = task.skip?.(ctx);
    const step = task.step;
    const out = skipped ?? (step ? await this.log.run(step, () => task.setup(ctx)) : await task.setup(ctx));
    const next = Object.assign({}, ctx, out);
    const teardown = skipped ? undefined : task.teardown?.(next);
    if (teardown) this.teardowns.push(teardown);
    return next;
  }

  /** Every registered teardown, in reverse order; never throws. */
  async teardown(deadlineMs?: number): Promise<void> {
    const list = this.teardowns.splice(0);
    await runTeardowns(list, { log: this.log, deadlineMs });
  }
}

/** A typed list of tasks over a base context: `TaskList.start<Base>().then(a).then(b).run(...)`. */
export class TaskList<Base extends object, C extends object> {
  private constructor(private readonly go: (base: Base, runner: TaskRunner) => Promise<C>) {}

  static start<B extends object>(): TaskList<B, B> {
    return new TaskList<B, B>((base) => Promise.resolve(base));
  }

  then<O extends object>(task: Task<C, O>): TaskList<Base, C & O> {
    return new TaskList<Base, C & O>(async (base, runner) =>
      runner.perform(task, await this.go(base, runner)),
    );
  }

  /** Runs the tasks; stops at the first that throws (the error propagates; teardowns are the caller's). */
  run(base: Base, runner: TaskRunner): Promise<C> {
    return this.go(base, runner);
  }
}
