import type { SuiteContext } from './contracts.js';

/**
 * The runner sets the context before mocha loads the suites and clears it after; a suite calls
 * `rig()` in its hooks and tests. One board per process (several boards run as child processes).
 */
let current: SuiteContext | undefined;

export function setRig(ctx: SuiteContext | undefined): void {
  current = ctx;
}

/** Skips the current test with a reason that reaches JUnit, Allure and summary.json. */
export function skipBecause(ctx: { skip(): never }, reason: string): never {
  current?.skip(reason);
  return ctx.skip();
}

export function rig(): SuiteContext {
  if (!current)
    throw new Error('suites run under hw-test: no board context (run them with `hw-test --board ...`)');
  return current;
}

/**
 * Steps that depend on earlier ones: a step whose `needs` (step numbers, the title's part before
 * ':') failed is skipped naming the first, so the failing step is the one the report points at.
 * Every step skips with `unavailable()` when that says why the whole suite cannot run.
 */
export function chainedSteps(unavailable: () => string | undefined) {
  const failed: string[] = [];
  return function step(name: string, needs: string[], fn: (this: Mocha.Context) => Promise<void>): void {
    it(name, async function () {
      const why = unavailable();
      if (why) skipBecause(this, why);
      const missing = needs.filter((n) => failed.includes(n));
      if (missing.length) skipBecause(this, `not run: step "${missing[0]}" failed`);
      try {
        await fn.call(this);
      } catch (err) {
        // mocha's skip throws a Pending that is no Error: only real failures block later steps.
        if (err instanceof Error) failed.push(name.split(':')[0]);
        throw err;
      }
    });
  };
}
