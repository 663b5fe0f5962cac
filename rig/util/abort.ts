import { InterruptedError, TimeoutError, type ErrorClass, type ErrorContext } from '../errors.js';

/** Rejects as soon as `signal` aborts; used to race any wait against cancellation. */
export function abortPromise(signal: AbortSignal | undefined): { promise: Promise<never>; dispose(): void } {
  if (!signal) return { promise: new Promise<never>(() => {}), dispose() {} };
  let onAbort: () => void = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(new InterruptedError(`interrupted: ${String(signal.reason ?? 'aborted')}`));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/** Calls `fn` once if `signal` aborts; returns the unhook. */
export function whenAborted(signal: AbortSignal | undefined, fn: () => void): () => void {
  signal?.addEventListener('abort', fn, { once: true });
  return () => signal?.removeEventListener('abort', fn);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError(`interrupted: ${String(signal.reason ?? 'aborted')}`);
}

export interface DeadlineOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Class of the timeout: a silent board is `fail`, a silent piece of rig is `infra`. */
  errorClass: ErrorClass;
  message: string;
  /** Called at timeout to add what was seen (the last console lines, the tool's output ...). */
  context?: () => ErrorContext;
}

/** Runs `work` under a deadline and an AbortSignal; the work gets a signal that aborts on either. */
export async function withDeadline<T>(
  work: (signal: AbortSignal) => Promise<T>,
  opts: DeadlineOptions,
): Promise<T> {
  const ctl = new AbortController();
  const outer = abortPromise(opts.signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new TimeoutError(opts.errorClass, opts.message, { timeoutMs: opts.timeoutMs, ...opts.context?.() }),
      );
    }, opts.timeoutMs);
  });
  try {
    return await Promise.race([work(ctl.signal), timeout, outer.promise]);
  } catch (err) {
    ctl.abort(err);
    throw err;
  } finally {
    clearTimeout(timer);
    outer.dispose();
  }
}

/** A sleep that aborts; only for documented hardware settle times, never to wait for an event. */
export function settle(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError());
    const onAbort = () => {
      clearTimeout(t);
      reject(new InterruptedError());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
