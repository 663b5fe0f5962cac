import { HwTestError, errorMessage, verdictOf } from '../errors.js';
import { logger } from '../log.js';
import type { StepRecord } from '../report/model.js';

const log = logger('steps');

export interface StepEvents {
  onStart?(name: string): void;
  onEnd?(record: StepRecord): void;
}

/**
 * A run is a list of steps, each of which may register a teardown. Teardowns run in reverse
 * order, always (success, failure, interruption), each bounded so a stuck one cannot hold the
 * board; their failures are recorded, never thrown over the run's own result.
 */
export class Steps {
  readonly records: StepRecord[] = [];
  private readonly teardowns: { name: string; fn: () => Promise<void> }[] = [];

  constructor(private readonly events: StepEvents = {}) {}

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const startedAt = new Date();
    this.events.onStart?.(name);
    try {
      const value = await fn();
      this.record({
        name,
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - startedAt.getTime(),
        verdict: 'pass',
      });
      return value;
    } catch (err) {
      this.record({
        name,
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - startedAt.getTime(),
        verdict: verdictOf(err),
        message: errorMessage(err),
      });
      throw err;
    }
  }

  /** Registers a teardown, run in reverse order of registration by `teardown()`. */
  defer(name: string, fn: () => Promise<void>): void {
    this.teardowns.push({ name, fn });
  }

  async teardown(timeoutMs = 30_000): Promise<void> {
    while (this.teardowns.length) {
      const { name, fn } = this.teardowns.pop()!;
      const startedAt = new Date();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          fn(),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`teardown "${name}" did not finish within ${timeoutMs / 1000} s`)),
              timeoutMs,
            );
          }),
        ]);
        this.record({
          name,
          startedAt: startedAt.toISOString(),
          durationMs: Date.now() - startedAt.getTime(),
          verdict: 'pass',
        });
      } catch (err) {
        log('teardown %s failed: %s', name, errorMessage(err));
        this.record({
          name,
          startedAt: startedAt.toISOString(),
          durationMs: Date.now() - startedAt.getTime(),
          verdict: err instanceof HwTestError ? verdictOf(err) : 'infra',
          message: errorMessage(err),
        });
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private record(r: StepRecord): void {
    this.records.push(r);
    this.events.onEnd?.(r);
  }
}
