import path from 'node:path';
import { loadOsProfile } from '../catalog/os-profile.js';
import { InputError, exitCodeFor, worst } from '../errors.js';
import type { RunSummary } from '../report/model.js';
import { checkReportsDir } from '../report/reports-dir.js';
import { inputFile } from '../util/input-file.js';
import { parse } from './args.js';
import { progressView } from './progress.js';
import type { CliCommand, CliIo } from './io.js';

const USAGE = `Usage: hw-test --board NAME[,NAME...|all] [options]

  --board NAME        board type (virtual) or lab instance; a list or "all" (every board wired here)
  --image PATH|URL    image to flash (default: the virtual board's reference image)
  --suite LIST        suites, comma separated (default: boot)
  --grep RE           only tests whose title matches RE
  --reports DIR       report folder (default: ./reports)
  --lab FILE          lab wiring file (default: $HW_TEST_LAB)
  --os FILE           OS profile of the image under test (default: the reference OS)
  --lock-timeout S    wait this long for a busy board, then exit 3 (default: 600)
  --parallel N        boards run at once (default: 1)
  --retries N         infra retries: flash attempts and power cycles after a silent boot (default: 1)
  --quarantine-after N  consecutive infra results that quarantine a board (default: 3)
  --cuts N            update-rollback: power cuts during the update (default: 5)
  --seed S            update-rollback: seed of the cut points, to replay a failure`;

export function reproduceCommand(values: Record<string, unknown>, board: string, labFile?: string): string {
  const parts = ['npm run hw-test --', '--board', board];
  // Without the lab file a desk cannot find a real board's wiring.
  if (labFile) parts.push('--lab', labFile);
  for (const k of ['image', 'suite', 'grep', 'os', 'cuts', 'seed'] as const) {
    const v = values[k];
    if (typeof v === 'string')
      parts.push(`--${k}`, /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  }
  return parts.join(' ');
}

async function main(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'run') argv = argv.slice(1);
  const { values } = parse('run', argv, {
    board: { type: 'string' },
    image: { type: 'string' },
    suite: { type: 'string', default: 'boot' },
    grep: { type: 'string' },
    reports: { type: 'string', default: 'reports' },
    lab: { type: 'string' },
    os: { type: 'string' },
    'lock-timeout': { type: 'string', default: '600' },
    parallel: { type: 'string', default: '1' },
    cuts: { type: 'string' },
    seed: { type: 'string' },
    retries: { type: 'string', default: '1' },
    'quarantine-after': { type: 'string', default: '3' },
  });
  const retries = Number(values.retries);
  if (!Number.isInteger(retries) || retries < 0)
    throw new InputError(`--retries ${values.retries}: expected a whole number >= 0`);
  const quarantineAfter = Number(values['quarantine-after']);
  if (!Number.isInteger(quarantineAfter) || quarantineAfter < 1)
    throw new InputError(`--quarantine-after ${values['quarantine-after']}: expected a whole number >= 1`);
  if (!values.board)
    throw new InputError('--board is required (see hw-test --help; hw-test boards lists them)');
  const lockTimeout = Number(values['lock-timeout']);
  if (!Number.isFinite(lockTimeout) || lockTimeout < 0)
    throw new InputError(`--lock-timeout ${values['lock-timeout']}: expected seconds`);
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1)
    throw new InputError(`--parallel ${values.parallel}: expected a whole number >= 1`);
  if (values.grep) {
    try {
      new RegExp(values.grep);
    } catch {
      throw new InputError(`--grep ${values.grep}: not a valid regular expression`);
    }
  }
  if (values.image && !/^https?:\/\//.test(values.image)) {
    inputFile(values.image, `--image ${values.image}`, { blockOk: true });
  }
  // Before any board is touched: a report folder that cannot be (a file, /proc, read-only).
  checkReportsDir(values.reports);
  if (io.env.HW_TEST_SSH_KEY) inputFile(io.env.HW_TEST_SSH_KEY, `HW_TEST_SSH_KEY ${io.env.HW_TEST_SSH_KEY}`);
  const labFile = values.lab ?? io.env.HW_TEST_LAB;
  const os = loadOsProfile(values.os ? path.resolve(values.os) : undefined);
  const suites = values.suite
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (suites.length === 0)
    throw new InputError(
      `--suite ${values.suite}: no suite named (suites are comma separated: boot,network)`,
    );
  const { resolveBoards } = await import('../runner/multi.js');
  const boards = await resolveBoards(values.board, labFile);
  const { suiteFiles } = await import('../runner/suites.js');
  suiteFiles(suites); // an unknown suite is bad input before any board is touched
  const { runBoard } = await import('../runner/run-board.js');
  const suiteOptions: Record<string, string> = {};
  if (values.cuts) suiteOptions.cuts = values.cuts;
  if (values.seed) suiteOptions.seed = values.seed;

  const summaries: RunSummary[] = [];
  if (boards.length > 1) {
    const { runChildren } = await import('../runner/multi.js');
    const { readFile } = await import('node:fs/promises');
    const rest = withoutOptions(argv, ['--board', '--parallel']);
    await runChildren(
      boards.map((b) => b.name),
      rest,
      { parallel, signal: io.signal, err: (l) => io.err(l) },
    );
    for (const b of boards) {
      const file = path.join(path.resolve(values.reports), b.name, 'latest', 'summary.json');
      try {
        summaries.push(JSON.parse(await readFile(file, 'utf8')) as RunSummary);
      } catch {
        io.err(`${b.name}: no report was written (${file})`);
      }
    }
  } else {
    const b = boards[0];
    summaries.push(
      await runBoard({
        board: b,
        os,
        image: values.image
          ? /^https?:/.test(values.image)
            ? values.image
            : path.resolve(values.image)
          : undefined,
        suites,
        grep: values.grep,
        reportsDir: path.resolve(values.reports),
        lockTimeoutMs: lockTimeout * 1000,
        suiteOptions,
        signal: io.signal,
        interactive: io.interactive,
        env: io.env,
        reproduce: reproduceCommand(values, b.name, b.labFile),
        retries,
        quarantineAfter,
        progress: (label) => progressView(io, label),
        events: { info: (l) => io.err(l), warn: (l) => io.err(`warning: ${l}`) },
      }),
    );
  }
  if (io.env.HW_TEST_CHILD) {
    // The parent prints the summary of every board.
    return exitFor(summaries);
  }
  const { summaryLines } = await import('../report/console.js');
  for (const line of summaryLines(summaries, path.resolve(values.reports))) io.out(line);
  if (summaries.length > 1) {
    const { combinedRows, combinedTable, writeCombined } = await import('../report/combined.js');
    const rows = combinedRows(summaries, path.resolve(values.reports));
    io.out('');
    for (const line of combinedTable(rows, suites)) io.out(line);
    const file = await writeCombined(
      path.resolve(values.reports),
      rows,
      new Date().toISOString().replace(/[-:]/g, '').slice(0, 15),
    );
    io.out(`combined summary: ${path.relative(process.cwd(), file)}`);
  }
  if (summaries.length < boards.length && !io.signal.aborted) return 3;
  return exitFor(summaries);
}

function exitFor(summaries: RunSummary[]): number {
  const verdict = worst(summaries.map((s) => s.verdict));
  // Bad input found mid-run (a corrupt image) is still bad input: exit 2, unless interrupted.
  if (verdict !== 'interrupted' && summaries.some((s) => s.exitCode === 2)) return 2;
  return exitCodeFor(verdict);
}

/** argv without the given options and their values (both `--opt v` and `--opt=v`). */
function withoutOptions(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (names.includes(a)) i++;
    else if (!names.some((n) => a.startsWith(`${n}=`))) out.push(a);
  }
  return out;
}

export const command: CliCommand = { summary: 'flash, boot and test a board', usage: USAGE, main };
