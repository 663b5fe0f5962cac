import { join } from 'node:path';
import { InputError } from '../errors.js';
import { writeDashboard } from '../report/dashboard/index.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import type { CliCommand } from './io.js';

const OPTIONS = [
  { name: 'out', value: 'DIR', description: 'where index.html goes (default: REPORTS_DIR/dashboard)' },
  { name: 'last', value: 'N', description: 'runs per board in the trends (default: 20)' },
] as const satisfies OptionTable;

const USAGE = helpText({
  synopsis: 'Usage: hw-test dashboard REPORTS_DIR [--out DIR] [--last N]',
  intro: `Writes a static page (no network: inline CSS and SVG) with the board x suite matrix of the
latest verdicts, linked to each run's Allure report, and per-board trends of boot time, flash
throughput and suite duration.

  REPORTS_DIR      the --reports folder of hw-test runs (<board>/<run-id>/summary.json)`,
  options: OPTIONS,
});

export const command: CliCommand = {
  summary: 'write a static lab dashboard (board x suite matrix, trends)',
  usage: USAGE,
  async main(argv, io) {
    const { values, positionals } = parseOptions('dashboard', argv, OPTIONS, { positionals: true });
    if (positionals.length !== 1)
      throw new InputError('dashboard: REPORTS_DIR expected (see hw-test dashboard --help)');
    const reportsDir = positionals[0];
    const last = values.last === undefined ? 20 : Number(values.last);
    if (!Number.isInteger(last) || last < 1)
      throw new InputError(`dashboard: --last ${values.last}: expected a whole number of runs, 1 or more`, {
        field: 'last',
      });
    const res = await writeDashboard({
      reportsDir,
      outDir: values.out ?? join(reportsDir, 'dashboard'),
      last,
    });
    const runs = res.boards.reduce((a, b) => a + b.runs.length, 0);
    io.err(`hw-test dashboard: ${res.boards.length} boards, ${runs} runs`);
    if (res.withoutReport.length) {
      io.err(
        `hw-test dashboard: ${res.withoutReport.length} runs have no Allure HTML (their cells link to summary.json; render with hw-test report RUN_DIR)`,
      );
    }
    io.out(res.file);
    return 0;
  },
};
