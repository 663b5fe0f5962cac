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
