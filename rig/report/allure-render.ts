import { access, cp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { InfraError, InputError } from '../errors.js';
import { logger } from '../log.js';
import { realSpawner, runChecked, type Spawner } from '../util/spawn.js';
import { readSummary } from './dashboard/runs.js';
import type { RunSummary } from './model.js';

const log = logger('report:allure');

export interface AllureRenderOptions {
  /** A run directory: `<reports>/<board>/<run-id>` with `allure-results/` (and summary.json). */
  runDir: string;
  /** Where the HTML goes (default `<runDir>/allure-report`). */
  outDir?: string;
  /**
   * A previous report (its folder, its `history/`, or its run directory): its `history/` is copied
   * into the new results, which is how Allure draws trends across builds. Missing: a new trend starts.
   */
  historyFrom?: string;
  /** Jenkins' BUILD_URL, BUILD_NUMBER, JOB_NAME, JENKINS_URL feed executor.json. */
  env?: NodeJS.ProcessEnv;
  spawner?: Spawner;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** The allure launcher (default: allure-commandline's, from node_modules). */
  allureBin?: string;
}

export interface AllureRenderResult {
  reportDir: string;
  resultsDir: string;
  /** Where history came from, or undefined when this report starts a new trend. */
  history?: string;
  summary?: RunSummary;
}

/**
 * Our verdict classes as Allure categories. Allure puts a result in every category it matches, so
 * the patterns exclude each other. allure-mocha marks chai's AssertionError `failed` and any other
 * error `broken`; the class is told by the error's name at the head of the trace (HwTest<Class>Error,
 * from rig/errors.ts).
 */
export const CATEGORIES = [
  {
    name: 'Rig problems (infra)',
    description:
      'The rig broke (serial device, mux, relay, flash verify): not the image. Retried; counts against the board health.',
    matchedStatuses: ['broken', 'failed'],
    traceRegex: '(?s).*HwTestInfraError.*',
  },
  {
    name: 'Interrupted',
    description: 'The run was stopped (SIGINT/SIGTERM, Jenkins abort).',
    matchedStatuses: ['broken', 'failed'],
    traceRegex: '(?s)(?!.*HwTestInfraError).*(HwTestInterruptedError|AbortError).*',
  },
  {
    name: 'Product defects',
    description: 'The image under test is broken: what the rig exists to find.',
    matchedStatuses: ['failed', 'broken'],
    traceRegex:
      '(?s)(?!.*(HwTestInfraError|HwTestInterruptedError|AbortError)).*(HwTestFailError|AssertionError).*',
  },
  {
    name: 'Test defects',
    description: 'A suite itself is broken (a bug in a test), not the image.',
    matchedStatuses: ['broken'],
    traceRegex:
      '(?s)(?!.*(HwTestInfraError|HwTestFailError|AssertionError|HwTestInterruptedError|AbortError)).*',
  },
];

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

export function allureBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('allure-commandline/package.json');
  return join(dirname(pkg), 'dist/bin/allure');
}

/** Finds the `history/` folder in what the user pointed at, or undefined when it does not exist yet. */
export async function findHistory(dir: string): Promise<string | undefined> {
  if (!(await exists(dir))) return undefined;
  for (const c of [join(dir, 'history'), join(dir, 'allure-report/history'), dir]) {
    if (await exists(join(c, 'history-trend.json'))) return c;
  }
  throw new InputError(
    `--history ${dir}: no Allure history there (expected ${join(dir, 'history')}/history-trend.json); pass the previous allure-report folder`,
    {
      file: dir,
    },
  );
}

/** Jenkins build info when run from Jenkins, so the report links back to its build. */
export function executorInfo(env: NodeJS.ProcessEnv, summary?: RunSummary): Record<string, unknown> {
  const reportName = summary ? `hw-test ${summary.board} ${summary.runId}` : 'hw-test';
  if (!env.BUILD_URL && !env.BUILD_NUMBER) {
    return {
      name: 'hw-test',
      type: 'local',
      reportName,
      buildName: summary ? `${summary.board} ${summary.runId}` : 'local run',
    };
  }
  const number = env.BUILD_NUMBER ? Number(env.BUILD_NUMBER) : undefined;
  return {
    name: 'Jenkins',
    type: 'jenkins',
    ...(env.JENKINS_URL ? { url: env.JENKINS_URL } : {}),
    ...(number !== undefined && Number.isFinite(number) ? { buildOrder: number } : {}),
    buildName: `${env.JOB_NAME ?? 'hw-test'} #${env.BUILD_NUMBER ?? '?'}`,
    ...(env.BUILD_URL
      ? { buildUrl: env.BUILD_URL, reportUrl: `${env.BUILD_URL.replace(/\/?$/, '/')}allure/` }
      : {}),
    reportName,
  };
}

/** java.util.Properties escaping: what Allure's environment widget reads back. */
function propEscape(s: string, key: boolean): string {
  let out = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  if (key) out = out.replace(/([ =:#!])/g, '\\$1');
  else out = out.replace(/^([ #!])/, '\\$1');
  return out.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function environmentEntries(s: RunSummary): [string, string][] {
  const e: [string, string][] = [
    ['Board', s.board],
    ['Board.type', s.boardType],
    ['Host', s.host],
    ['Image', s.image.path],
  ];
  if (s.image.version) e.push(['Image.version', s.image.version]);
  if (s.image.sha256) e.push(['Image.sha256', s.image.sha256]);
  e.push(['Run', s.runId], ['Verdict', s.verdict], ['Reproduce', s.reproduce]);
  return e;
}

async function writeEnvironment(resultsDir: string, s: RunSummary): Promise<void> {
  const file = join(resultsDir, 'environment.properties');
  const existing = (await exists(file)) ? await readFile(file, 'utf8') : '';
  const have = new Set(existing.split('\n').map((l) => l.split(/(?<!\\)[=:]/)[0].trim()));
  const add = environmentEntries(s)
    .filter(([k]) => !have.has(propEscape(k, true)))
    .map(([k, v]) => `${propEscape(k, true)}=${propEscape(v, false)}`);
  await writeFile(file, `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${add.join('\n')}\n`);
}

async function checkResults(resultsDir: string): Promise<void> {
  const files = await readdir(resultsDir).catch(() => {
    throw new InputError(
      `${resultsDir}: no Allure results (is this a run directory? expected <reports>/<board>/<run-id>/allure-results)`,
      {
        file: resultsDir,
      },
    );
  });
  if (!files.some((f) => f.endsWith('-result.json'))) {
    throw new InputError(`${resultsDir}: holds no *-result.json (did the run reach the suites?)`, {
      file: resultsDir,
    });
  }
}

/** Renders a run's Allure HTML, with history, executor, categories and the environment (reproduce command). */
export async function renderAllure(opts: AllureRenderOptions): Promise<AllureRenderResult> {
  const runDir = resolve(opts.runDir);
  const resultsDir = join(runDir, 'allure-results');
  const reportDir = resolve(opts.outDir ?? join(runDir, 'allure-report'));
  await checkResults(resultsDir);
  const summary = (await exists(join(runDir, 'summary.json'))) ? await readSummary(runDir) : undefined;

  const history = opts.historyFrom ? await findHistory(resolve(opts.historyFrom)) : undefined;
  if (history) await cp(history, join(resultsDir, 'history'), { recursive: true, force: true });
  log('history %s', history ?? '(none: a new trend starts)');

  await writeFile(
    join(resultsDir, 'executor.json'),
    JSON.stringify(executorInfo(opts.env ?? process.env, summary), null, 2),
  );
  await writeFile(join(resultsDir, 'categories.json'), JSON.stringify(CATEGORIES, null, 2));
  if (summary) {
    await writeEnvironment(resultsDir, summary);
    await tagBoard(resultsDir, summary.board);
  }

  const bin = opts.allureBin ?? allureBinary();
  await runChecked(opts.spawner ?? realSpawner, bin, ['generate', '--clean', '-o', reportDir, resultsDir], {
    what: 'allure generate (needs Java: apt-get install default-jre-headless)',
    // Allure's page loads Google Analytics unless told not to: a lab report makes no outside request.
    env: { ...(opts.env ?? process.env), ALLURE_NO_ANALYTICS: 'true' },
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
  await stripAnalytics(join(reportDir, 'index.html'));
  return { reportDir, resultsDir, history, summary };
}

interface AllureResultFile {
  historyId?: string;
  labels?: { name: string; value: string }[];
  parameters?: { name: string; value: string }[];
}

/**
 * Makes each result name its board: a `board` parameter and tag, and a history id per board.
 * Without it, the nightly's lab-wide Allure report would take the same test on two boards for
 * retries of one test, and mix their histories. Idempotent; results that already carry a
 * `board` parameter are left alone.
 */
export async function tagBoard(resultsDir: string, board: string): Promise<number> {
  let tagged = 0;
  for (const f of (await readdir(resultsDir)).filter((n) => n.endsWith('-result.json'))) {
    const file = join(resultsDir, f);
    const r = JSON.parse(await readFile(file, 'utf8')) as AllureResultFile;
    if (r.parameters?.some((p) => p.name === 'board')) continue;
    r.parameters = [...(r.parameters ?? []), { name: 'board', value: board }];
    r.labels = [...(r.labels ?? []), { name: 'tag', value: board }];
    if (r.historyId) r.historyId = `${r.historyId}:${board}`;
    await writeFile(file, JSON.stringify(r));
    tagged++;
  }
  return tagged;
}

/** Belt and braces for Allure versions that ignore ALLURE_NO_ANALYTICS. */
async function stripAnalytics(indexHtml: string): Promise<void> {
  const st = await stat(indexHtml).catch(() => undefined);
  if (!st) throw new InfraError(`allure generate wrote no ${indexHtml}`, { file: indexHtml });
  const html = await readFile(indexHtml, 'utf8');
  if (!html.includes('googletagmanager')) return;
  const cleaned = html
    .replace(/<script[^>]*googletagmanager[^>]*><\/script>/g, '')
    .replace(/<script>\s*window\.dataLayer[\s\S]*?<\/script>/g, '');
  await writeFile(indexHtml, cleaned);
}
