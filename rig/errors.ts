/**
 * Every error the controller raises carries its verdict class from where it is thrown, so that
 * a red nightly means the image is broken and not that a USB hub glitched (KCIDB's taxonomy).
 *
 * - `fail`: the image under test is at fault (kernel panic, no login, no DHCP lease ...).
 * - `error`: a suite itself is broken (a bug in a test).
 * - `infra`: the rig is at fault (serial device gone, mux or relay silent, flash verify mismatch).
 * - `input`: the user gave bad input (unknown board, malformed YAML, missing image): exit 2.
 * - `interrupted`: SIGINT/SIGTERM.
 */
export type ErrorClass = 'fail' | 'error' | 'infra' | 'input' | 'interrupted';

/**
 * Verdict of a test or a run; `input` never reaches a report: it stops the run before it starts.
 * `miss` (KCIDB's MISS) is a suite or a run that tested nothing: a requested suite whose every
 * test skipped, because the board cannot support it. Nothing tested is never a pass.
 */
export type Verdict = 'pass' | 'fail' | 'error' | 'infra' | 'interrupted' | 'skipped' | 'miss';

export interface ErrorContext {
  board?: string;
  device?: string;
  file?: string;
  field?: string;
  expected?: unknown;
  actual?: unknown;
  /** The last console lines seen before a timeout or a failure pattern. */
  seen?: string[];
  /**
   * false for an infra result that is no fault of the board's own rig (the download server or the
   * network, another run holding the board): it is retried and reported, but never counts toward
   * the board's quarantine.
   */
  boardFault?: boolean;
  [key: string]: unknown;
}

export class HwTestError extends Error {
  readonly class: ErrorClass;
  readonly context: ErrorContext;

  constructor(
    errorClass: ErrorClass,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `HwTest${errorClass[0].toUpperCase()}${errorClass.slice(1)}Error`;
    this.class = errorClass;
    this.context = context;
  }
}

/** The image under test misbehaved. */
export class FailError extends HwTestError {
  constructor(message: string, context?: ErrorContext, options?: { cause?: unknown }) {
    super('fail', message, context, options);
  }
}

/** The rig misbehaved: retried, counted against the board's health. */
export class InfraError extends HwTestError {
  constructor(message: string, context?: ErrorContext, options?: { cause?: unknown }) {
    super('infra', message, context, options);
  }
}

/** Bad input: one line naming the file, field or device and what to do. Exit code 2. */
export class InputError extends HwTestError {
  constructor(message: string, context?: ErrorContext, options?: { cause?: unknown }) {
    super('input', message, context, options);
  }
}

export class InterruptedError extends HwTestError {
  constructor(message = 'interrupted', context?: ErrorContext) {
    super('interrupted', message, context);
  }
}

/** A wait ran out. Its class is chosen by the caller: a silent board is `fail`, a silent mux is `infra`. */
export class TimeoutError extends HwTestError {
  constructor(errorClass: ErrorClass, message: string, context?: ErrorContext) {
    super(errorClass, message, context);
  }
}

/** Class of any thrown value: ours carry one; anything else is a bug in a suite or the controller. */
export function classOf(err: unknown): ErrorClass {
  if (err instanceof HwTestError) return err.class;
  if (err instanceof Error && err.name === 'AbortError') return 'interrupted';
  // chai's AssertionError: the board did not do what the suite expected.
  if (err instanceof Error && err.name === 'AssertionError') return 'fail';
  return 'error';
}

/**
 * KCIDB ranks FAIL > ERROR > MISS > PASS: a test that proved the image broken outweighs a suite bug,
 * which outweighs a rig problem (the rig's result says nothing about the image), which outweighs
 * having tested nothing; and having tested nothing is worse than a pass.
 */
const SEVERITY: Record<Verdict, number> = {
  pass: 0,
  skipped: 0,
  miss: 1,
  infra: 2,
  error: 3,
  fail: 4,
  interrupted: 5,
};

export function worst(verdicts: Iterable<Verdict>): Verdict {
  let result: Verdict = 'pass';
  for (const v of verdicts) if (SEVERITY[v] > SEVERITY[result]) result = v;
  return result;
}

export const EXIT_CODES = {
  pass: 0,
  fail: 1,
  input: 2,
  infra: 3,
  miss: 4,
  error: 1,
  interrupted: 130,
} as const;

export function exitCodeFor(verdict: Verdict | 'input'): number {
  if (verdict === 'skipped') return 0;
  return EXIT_CODES[verdict];
}

/** Whether an error counts against the board's health: the rig's own infra faults only. */
export function countsAgainstBoard(err: unknown): boolean {
  return classOf(err) === 'infra' && (err as HwTestError).context?.boardFault !== false;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A test's verdict from what it threw: bad input inside a suite is the suite's own error. */
export function verdictOf(err: unknown): Verdict {
  const c = classOf(err);
  return c === 'input' ? 'error' : c;
}
