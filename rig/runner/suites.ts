import Mocha from 'mocha';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HwTestError, errorMessage } from '../errors.js';
import { mask } from '../log.js';
import { ResultCollector, collectorReporter } from '../report/collector.js';
import { maskingWriter } from '../report/masked-writer.js';
import { CATEGORIES } from '../report/allure-render.js';
import type { TestResult } from '../report/model.js';
import type { SuiteContext } from '../suite-api/contracts.js';
import { setRig } from '../suite-api/context.js';

export interface SuiteRunOptions {
  /** Each suite's name and spec files: a result belongs to the suite of the file it comes from. */
  suites: readonly { name: string; files: readonly string[] }[];
  grep?: string;
  allureResultsDir: string;
  context: Omit<SuiteContext, 'metric' | 'attach' | 'skip'>;
  /** Console clock and excerpt, for per-test console attachments. */
  now(): number;
  excerpt(fromMs: number, toMs: number): string;
  environment: Record<string, string>;
  signal: AbortSignal;
  onResult?: (r: TestResult) => void;
  /** Told once when an allure-results file cannot be written (a full disk). */
  onWriteError?: (err: unknown) => void;
}

type Allure = typeof import('allure-js-commons');

/**
 * Runs the suites in this process with mocha: allure-mocha writes allure-results, and our
 * collector (one of its extra reporters) builds the neutral result model.
 */
export async function runSuites(opts: SuiteRunOptions): Promise<TestResult[]> {
  const AllureMochaReporter = (await import('allure-mocha')).default as unknown as Mocha.ReporterConstructor;
  const allure = await import('allure-js-commons');
  const metrics = new Map<string, Record<string, number>>();
  const suiteOf = new Map(opts.suites.flatMap((s) => s.files.map((f) => [f, s.name] as const)));
  const collector = new ResultCollector(
    { now: () => opts.now(), excerpt: (a, b) => opts.excerpt(a, b), suiteOf: (f) => suiteOf.get(f) },
    opts.onResult,
  );
  setRig(suiteContext(opts, collector, metrics, allure));
  if (opts.grep) collector.grep = new RegExp(opts.grep);
  const mocha = new Mocha({
    // Each step inside a test has the board's own deadline; mocha's is only a last resort.
    timeout: 0,
    grep: opts.grep,
    reporter: AllureMochaReporter,
    reporterOptions: {
      resultsDir: opts.allureResultsDir,
      writer: await guardedWriter(opts),
      extraReporters: [[collectorReporter(collector), {}]],
      // The reproduce line is the user's command line: it may carry a secret.
      environmentInfo: Object.fromEntries(Object.entries(opts.environment).map(([k, v]) => [k, mask(v)])),
      categories: CATEGORIES,
    },
  });
  attachConsole(mocha, opts, metrics, allure);
  try {
    await loadFiles(mocha, opts.suites);
    await new Promise<void>((resolve) => {
      const runner = mocha.run(() => resolve());
      opts.signal.addEventListener('abort', () => runner.abort(), { once: true });
    });
  } finally {
    setRig(undefined);
    mocha.dispose();
  }
  return collector.results;
}

/**
 * Each spec file imported as mocha's loadFilesAsync does (its describe/it bound to this mocha), but
 * one at a time: a file that throws on load (a syntax error, a missing import, a throw at its top)
 * becomes a failed test of its suite, verdict error, naming the file; the other files still run.
 */
async function loadFiles(mocha: Mocha, suites: SuiteRunOptions['suites']): Promise<void> {
  const { EVENT_FILE_PRE_REQUIRE, EVENT_FILE_REQUIRE, EVENT_FILE_POST_REQUIRE } = Mocha.Suite.constants;
  for (const s of suites) {
    for (const file of s.files) {
      mocha.suite.emit(EVENT_FILE_PRE_REQUIRE, globalThis, file, mocha);
      try {
        const mod: unknown = await import(pathToFileURL(file).href);
        mocha.suite.emit(EVENT_FILE_REQUIRE, mod, file, mocha);
      } catch (err) {
        addLoadFailure(mocha, s.name, file, err);
      }
      mocha.suite.emit(EVENT_FILE_POST_REQUIRE, globalThis, file, mocha);
    }
  }
}

function addLoadFailure(mocha: Mocha, suiteName: string, file: string, cause: unknown): void {
  const error = new HwTestError('error', `${file} does not load: ${errorMessage(cause)}`, { file });
  error.name = 'SuiteLoadError';
  // The cause's stack says where in the file (source-mapped for TypeScript).
  if (cause instanceof Error && cause.stack) error.stack = `${error.name}: ${error.message}\n${cause.stack}`;
  const suite = Mocha.Suite.create(mocha.suite, suiteName);
  suite.file = file;
  const test = new Mocha.Test(`loads ${path.basename(file)}`, () => {
    throw error;
  });
  test.file = file;
  suite.addTest(test);
}

/** The context `rig()` returns: the run's board, plus the per-test recorders. */
function suiteContext(
  opts: SuiteRunOptions,
  collector: ResultCollector,
  metrics: Map<string, Record<string, number>>,
  allure: Allure,
): SuiteContext {
  return {
    ...opts.context,
    metric: (name, value) => {
      collector.metric(name, value);
      const title = collector.currentTitle();
      if (title) metrics.set(title, { ...metrics.get(title), [name]: value });
    },
    attach: (name, content, type = 'text/plain') => {
      collector.attach({ name, type, content });
      void Promise.resolve(allure.attachment(name, content, type)).catch(() => {});
    },
    skip: (reason: string) => {
      const title = collector.currentTitle();
      if (title) collector.skipReason(title, reason);
    },
  };
}

/**
 * A full disk must not stop the run: allure-js writes synchronously inside mocha's events, and
 * an exception there stalls mocha for good (the board then boots on with nobody watching).
 * Failed writes are dropped and told once; the run's own report says the disk is full.
 */
async function guardedWriter(opts: SuiteRunOptions): Promise<object> {
  const { FileSystemWriter } = await import('allure-js-commons/sdk/reporter');
  const fsWriter = maskingWriter(new FileSystemWriter({ resultsDir: opts.allureResultsDir }));
  let writeFailed = false;
  return new Proxy(fsWriter, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        try {
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          if (!writeFailed) opts.onWriteError?.(err);
          writeFailed = true;
          return undefined;
        }
      };
    },
  });
}

/** The console excerpt of each test goes into Allure as an attachment too, with its metrics. */
function attachConsole(
  mocha: Mocha,
  opts: SuiteRunOptions,
  metrics: Map<string, Record<string, number>>,
  allure: Allure,
): void {
  mocha.suite.afterEach(async function () {
    const t = this.currentTest;
    if (!t) return;
    const text = opts.excerpt(Math.max(0, opts.now() - (t.duration ?? 0) - 50), opts.now());
    if (text) await allure.attachment('console', text, 'text/plain');
    // Stage times and throughputs, beside the console, so Allure shows what the trends read.
    const m = metrics.get(t.fullTitle());
    if (m) await allure.attachment('timings', `${JSON.stringify(m, null, 2)}\n`, 'application/json');
  });
}
