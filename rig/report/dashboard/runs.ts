import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../../errors.js';
import type { RunSummary } from '../model.js';

/** One run on disk: `<reports>/<board>/<run-id>/summary.json`. */
export interface RunRecord {
  dir: string;
  summary: RunSummary;
}

export interface BoardRuns {
  board: string;
  /** Oldest first. */
  runs: RunRecord[];
  /** What `<board>/latest` points at, else the newest run. */
  latest: RunRecord;
}

const REQUIRED: (keyof RunSummary)[] = [
  'runId',
  'board',
  'startedAt',
  'verdict',
  'tests',
  'suites',
  'stages',
  'reproduce',
];

/** Reads and checks a run's summary.json; bad files get one line naming the file and the field. */
export async function readSummary(runDir: string): Promise<RunSummary> {
  const file = join(runDir, 'summary.json');
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `not JSON: ${(err as Error).message}`;
    throw new InputError(`${file}: ${why} (expected a run directory written by hw-test)`, { file });
  }
  if (typeof data !== 'object' || data === null || (data as { schema?: unknown }).schema !== 1) {
    throw new InputError(`${file}: field "schema": expected 1 (a summary.json written by hw-test)`, {
      file,
      field: 'schema',
    });
  }
  for (const field of REQUIRED) {
    if ((data as Record<string, unknown>)[field] === undefined) {
      throw new InputError(`${file}: field "${field}" is missing`, { file, field });
    }
  }
  return data as RunSummary;
}

const isDir = (p: string) =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

async function loadBoard(boardDir: string): Promise<BoardRuns | undefined> {
  const runs: RunRecord[] = [];
  for (const name of (await readdir(boardDir)).sort()) {
    const dir = join(boardDir, name);
    if (name === 'latest' || !(await isDir(dir))) continue;
    const hasSummary = await stat(join(dir, 'summary.json')).then(
      () => true,
      () => false,
    );
    if (hasSummary) runs.push({ dir, summary: await readSummary(dir) });
  }
  if (runs.length === 0) return undefined;
  runs.sort((a, b) => Date.parse(a.summary.startedAt) - Date.parse(b.summary.startedAt));
  const target = await readlink(join(boardDir, 'latest')).catch(() => undefined);
  const latest = (target && runs.find((r) => r.dir === resolve(boardDir, target))) || runs[runs.length - 1];
  return { board: basename(boardDir), runs, latest };
}

/** Every board's runs under a reports folder (`<reports>/<board>/<run-id>/summary.json`). */
export async function loadReports(reportsDir: string): Promise<BoardRuns[]> {
  const root = resolve(reportsDir);
  if (!(await isDir(root)))
    throw new InputError(
      `${reportsDir}: no such reports folder (pass the --reports folder of hw-test runs)`,
      { file: reportsDir },
    );
  const boards: BoardRuns[] = [];
  for (const name of (await readdir(root)).sort()) {
    const dir = join(root, name);
    if (!(await isDir(dir))) continue;
    const b = await loadBoard(dir);
    if (b) boards.push(b);
  }
  if (boards.length === 0) {
    throw new InputError(`${reportsDir}: holds no runs (expected <board>/<run-id>/summary.json)`, {
      file: reportsDir,
    });
  }
  return boards;
}
