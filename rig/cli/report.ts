import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { renderAllure } from '../report/allure-render.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import type { CliCommand } from './io.js';

const OPTIONS = [
  {
    name: 'history',
    value: 'DIR',
    description: 'the previous allure-report (or its history/): carries the trends over',
  },
  { name: 'out', value: 'DIR', description: 'where the HTML goes (default: RUN_DIR/allure-report)' },
  { name: 'reports', value: 'DIR', description: 'where runs are (default: ./reports)' },
] as const satisfies OptionTable;

const USAGE = helpText({
  synopsis: 'Usage: hw-test report [RUN_DIR] [--history DIR] [--out DIR] [--reports DIR]',
  intro: `Renders a run's Allure HTML (allure-commandline; needs Java) with the verdict classes as
categories, the Jenkins build as executor and the reproduce command in the environment.

  RUN_DIR          a run directory (default: REPORTS/<board>/latest when one board ran)`,
  options: OPTIONS,
});

/** The one board's latest run, when the reports folder holds exactly one board. */
async function defaultRunDir(reports: string): Promise<string> {
  const names = await readdir(reports).catch(() => {
    throw new InputError(`report: ${reports}: no such reports folder; pass RUN_DIR or --reports DIR`, {
      file: reports,
    });
  });
  const boards: string[] = [];
  for (const n of names.sort()) {
    const latest = join(reports, n, 'latest');
    if (
      await stat(latest).then(
        (s) => s.isDirectory(),
        () => false,
      )
    )
      boards.push(n);
  }
  if (boards.length === 1) return join(reports, boards[0], 'latest');
  if (boards.length === 0)
    throw new InputError(`report: ${reports} holds no <board>/latest run; pass RUN_DIR`, { file: reports });
  throw new InputError(
    `report: ${reports} holds runs of ${boards.join(', ')}; pass RUN_DIR, e.g. ${join(reports, boards[0], 'latest')}`,
    {
      file: reports,
    },
  );
}

export const command: CliCommand = {
  summary: 'render Allure HTML from a run directory',
  usage: USAGE,
  async main(argv, io) {
    const { values, positionals } = parseOptions('report', argv, OPTIONS, { positionals: true });
    if (positionals.length > 1)
      throw new InputError(
        `report: one RUN_DIR expected, got ${positionals.length} (see hw-test report --help)`,
      );
    const runDir = positionals[0] ?? (await defaultRunDir(values.reports ?? 'reports'));
    const res = await renderAllure({
      runDir,
      outDir: values.out,
      historyFrom: values.history,
      env: io.env,
      signal: io.signal,
    });
    if (values.history && !res.history)
      io.err(`hw-test report: no history in ${values.history} yet: this report starts a new trend`);
    else if (res.history) io.err(`hw-test report: history carried over from ${res.history}`);
    if (res.summary)
      io.err(
        `hw-test report: ${res.summary.board} ${res.summary.runId}: ${res.summary.verdict}; reproduce with: ${res.summary.reproduce}`,
      );
    io.out(join(res.reportDir, 'index.html'));
    return 0;
  },
};
