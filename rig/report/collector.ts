import Mocha from 'mocha';
import { errorMessage, verdictOf, type Verdict } from '../errors.js';
import { mask } from '../log.js';
import type { Attachment, TestResult } from './model.js';

/** What the collector needs from the run: per-test console excerpts, and skip reasons. */
export interface CollectorHooks {
  /** Called at each test's start and end with the console clock, to cut the excerpt. */
  now(): number;
  excerpt(fromMs: number, toMs: number): string;
  /** The suite a spec file belongs to (its name in the run), when the run knows it. */
  suiteOf?(file: string): string | undefined;
}

interface Pending {
  startedAt: string;
  startMs: number;
  attachments: Attachment[];
  metrics: Record<string, number>;
}

/**
 * Collects mocha events into the neutral result model, classing every failure by where it was
 * thrown (rig/errors.ts), and marking tests a failed hook kept from running as skipped with why.
 */
export class ResultCollector {
  readonly results: TestResult[] = [];
  private readonly pending = new Map<Mocha.Runnable, Pending>();
  private readonly skipReasons = new Map<string, string>();
  private current: Mocha.Runnable | undefined;

  constructor(
    private readonly hooks: CollectorHooks,
    private readonly onResult?: (r: TestResult) => void,
  ) {}

  /** Suites call this (through the fixture) before `this.skip()`, so a skip always says why. */
  skipReason(fullTitle: string, reason: string): void {
    this.skipReasons.set(fullTitle, reason);
  }

  metric(name: string, value: number): void {
    if (this.current) this.entry(this.current).metrics[name] = value;
  }

  attach(att: Attachment): void {
    if (this.current) this.entry(this.current).attachments.push(att);
  }

  currentTitle(): string | undefined {
    return this.current?.fullTitle();
  }

  private entry(r: Mocha.Runnable): Pending {
    let p = this.pending.get(r);
    if (!p) {
      p = { startedAt: new Date().toISOString(), startMs: this.hooks.now(), attachments: [], metrics: {} };
      this.pending.set(r, p);
    }
    return p;
  }

  attachTo(runner: Mocha.Runner): void {
    runner.on('test', (t) => {
      this.current = t;
      this.entry(t);
    });
    runner.on('pass', (t) => this.finish(t, 'pass'));
    runner.on('fail', (r: Mocha.Runnable, err) => {
      if ((r as { type?: string }).type === 'hook') this.hookFailed(r as Mocha.Hook, err);
      else this.finish(r, verdictOf(err), err);
    });
    runner.on('pending', (t) => this.finish(t, 'skipped'));
    runner.on('end', () => this.markNotRun(runner.suite));
  }

  private suiteName(r: Mocha.Runnable): string {
    const named = r.file ? this.hooks.suiteOf?.(r.file) : undefined;
    if (named) return named;
    let s: Mocha.Suite | undefined = r.parent;
    while (s?.parent && !s.parent.root) s = s.parent;
    return s?.title || 'suite';
  }

  private finish(t: Mocha.Runnable, verdict: Verdict, err?: unknown): void {
    const p = this.entry(t);
    const endMs = this.hooks.now();
    const excerpt = this.hooks.excerpt(p.startMs, endMs);
    const attachments = [...p.attachments];
    if (excerpt) attachments.unshift({ name: 'console', type: 'text/plain', content: excerpt });
    const details = err ? this.details(err) : undefined;
    this.results.push({
      suite: this.suiteName(t),
      title: t.title,
      fullTitle: t.fullTitle(),
      verdict,
      durationMs: t.duration ?? endMs - p.startMs,
      message: err ? mask(errorMessage(err)) : undefined,
      details,
      skipReason: verdict === 'skipped' ? (this.skipReasons.get(t.fullTitle()) ?? 'skipped') : undefined,
      attachments,
      metrics: Object.keys(p.metrics).length ? p.metrics : undefined,
      startedAt: p.startedAt,
    });
    this.onResult?.(this.results[this.results.length - 1]);
    this.pending.delete(t);
    if (this.current === t) this.current = undefined;
  }

  private details(err: unknown): string {
    const lines: string[] = [];
    const ctx = (err as { context?: { seen?: string[] } }).context;
    if (err instanceof Error && err.stack) lines.push(err.stack);
    if (ctx?.seen?.length) lines.push('', `last ${ctx.seen.length} console lines:`, ...ctx.seen);
    return mask(lines.join('\n'));
  }

  /** A failed hook is reported as a result of its own, so the failure is never lost. */
  private hookFailed(hook: Mocha.Hook, err: unknown): void {
    this.finish(hook, verdictOf(err), err);
  }

  /** Tests `--grep` leaves out are not part of the run: they are not reported as skipped. */
  grep: RegExp | undefined;

  private markNotRun(suite: Mocha.Suite): void {
    for (const t of suite.tests) {
      if (this.grep && !this.grep.test(t.fullTitle())) continue;
      if (t.state === undefined && !t.isPending()) {
        const hookFailure = this.results.find(
          (r) => r.title.includes('hook') && t.fullTitle().startsWith(r.fullTitle.split(' "')[0]),
        );
        this.results.push({
          suite: this.suiteName(t),
          title: t.title,
          fullTitle: t.fullTitle(),
          verdict: 'skipped',
          durationMs: 0,
          skipReason: hookFailure
            ? `not run: ${hookFailure.title} failed: ${hookFailure.message ?? ''}`
            : 'not run',
          attachments: [],
          startedAt: new Date().toISOString(),
        });
      }
    }
    for (const s of suite.suites) this.markNotRun(s);
  }
}

/** A mocha reporter class bound to a collector, for allure-mocha's `extraReporters`. */
export function collectorReporter(collector: ResultCollector): Mocha.ReporterConstructor {
  return class CollectorReporter extends Mocha.reporters.Base {
    constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
      super(runner, options);
      collector.attachTo(runner);
    }
  };
}
