import path from 'node:path';
import { InputError, exitCodeFor, worst } from '../errors.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { RunSummary } from '../report/model.js';
import { checkReportsDir } from '../report/reports-dir.js';
import { inputFile } from '../util/input-file.js';
import { registerUrlSecrets } from '../log.js';
import type { ResolvedBoard } from '../runner/board-factory.js';
import { suiteArtifactOptions, suiteOptions, suitesFor, type SuiteEntry } from '../catalog/suites.js';
import {
  checkSha256,
  helpText,
  optionLines,
  parseOptions,
  type OptionSpec,
  type OptionValues,
} from './options.js';
import type { CliCommand, CliIo } from './io.js';

export const RUN_OPTIONS = [
  {
    name: 'board',
    value: 'NAME[,NAME...|all]',
    description: 'board type (virtual) or lab instance; a list or "all" (every board wired here)',
  },
  {
    name: 'image',
    value: 'PATH|URL',
    description: "image to flash (default: the virtual board's reference image)",
  },
  {
    name: 'image-sha256',
    value: 'HEX',
    description: "the image's expected sha256 (an image or a download that differs is refused)",
  },
  {
    name: 'suite',
    value: 'LIST',
    description: 'suites, comma separated: names, or paths of your own (default: the default suites)',
  },
  { name: 'grep', value: 'RE', description: 'only tests whose title matches RE' },
  { name: 'reports', value: 'DIR', description: 'report folder (default: ./reports)', default: 'reports' },
  { name: 'lab', value: 'FILE', description: 'lab wiring file (default: $HW_TEST_LAB)' },
  {
    name: 'os',
    value: 'FILE',
    description: 'OS profile of the image under test (default: the reference OS)',
  },
  {
    name: 'timeout',
    value: 'STAGE=S[,STAGE=S...]',
    description:
      "this run's limits in seconds, over the board type's and the OS profile's (bootloader, kernel, userspace, login, command, dhcp, mdns, ssh ...)",
  },
  {
    name: 'lock-timeout',
    value: 'S',
    description: 'wait this long for a busy board, then exit 3 (default: 600)',
    default: '600',
  },
  { name: 'parallel', value: 'N', description: 'boards run at once (default: 1)', default: '1' },
  {
    name: 'retries',
    value: 'N',
    description: 'infra retries: flash attempts and power cycles after a silent boot (default: 1)',
    default: '1',
  },
  {
    name: 'quarantine-after',
    value: 'N',
    description: 'consecutive infra results that quarantine a board (default: 3)',
    default: '3',
  },
] as const satisfies readonly OptionSpec[];

type RunValues = OptionValues<typeof RUN_OPTIONS>;

const SYNOPSIS = 'Usage: hw-test --board NAME[,NAME...|all] [options]';

/**
 * The suites' own options (their manifests'), as run options: `--cuts N`, named after their suite,
 * and the artifacts a user can name (`--update-bundle FILE|URL`).
 */
function suiteOptionTable(catalog: readonly SuiteEntry[]): OptionSpec[] {
  const taken = new Set<string>(RUN_OPTIONS.map((o) => o.name));
  const claim = (suite: string, name: string) => {
    if (taken.has(name))
      throw new InputError(
        `suite ${suite}: its option --${name} is taken (by a run option or another suite)`,
      );
    taken.add(name);
  };
  const options = suiteOptions(catalog).map((o): OptionSpec => {
    claim(o.suite, o.name);
    return { name: o.name, value: o.value, description: `${o.suite}: ${o.description}` };
  });
  // Two suites may share an artifact (the same option names the same file for both).
  const shared = new Set<string>();
  const files = suiteArtifactOptions(catalog).flatMap((a): OptionSpec[] => {
    if (shared.has(a.option)) return [];
    claim(a.suite, a.option);
    shared.add(a.option);
    return [{ name: a.option, value: 'FILE|URL', description: `${a.suite}: ${a.description}` }];
  });
  return [...options, ...files];
}

/** Every run option, the suites' included (the user suites `argv` names too), as --help lines. */
export async function runOptionLines(indent = '  ', argv: string[] = []): Promise<string[]> {
  const catalog = await optionCatalog(argv);
  const defaults = suitesFor('default', catalog).join(',');
  const table = RUN_OPTIONS.map((o) =>
    o.name === 'suite'
      ? { ...o, description: `suites, comma separated: names or paths of your own (default: ${defaults})` }
      : o,
  );
  return optionLines([...table, ...suiteOptionTable(catalog)], indent);
}

export function reproduceCommand(
  values: Record<string, unknown>,
  board: string,
  labFile?: string,
  suiteOptionNames: readonly string[] = [],
): string {
  const parts = ['npm run hw-test --', '--board', board];
  // Without the lab file a desk cannot find a real board's wiring.
  if (labFile) parts.push('--lab', labFile);
  for (const k of ['image', 'image-sha256', 'suite', 'grep', 'os', 'timeout', ...suiteOptionNames]) {
    const v = values[k];
    if (typeof v === 'string')
      parts.push(`--${k}`, /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  }
  return parts.join(' ');
}

function wholeNumber(option: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new InputError(`--${option} ${value}: expected a whole number >= ${min}`);
  return n;
}

/** The run's settings from its options: each bad one is bad input naming it. */
function settings(values: RunValues & { suite: string }) {
  const retries = wholeNumber('retries', values.retries, 0);
  const quarantineAfter = wholeNumber('quarantine-after', values['quarantine-after'], 1);
  if (!values.board)
    throw new InputError('--board is required (see hw-test --help; hw-test boards lists them)');
  const lockTimeout = Number(values['lock-timeout']);
  if (!Number.isFinite(lockTimeout) || lockTimeout < 0)
    throw new InputError(`--lock-timeout ${values['lock-timeout']}: expected seconds`);
  const parallel = wholeNumber('parallel', values.parallel, 1);
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
  const suites = values.suite
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (suites.length === 0)
    throw new InputError(
      `--suite ${values.suite}: no suite named (suites are comma separated: boot,network)`,
    );
  const imageSha256 = checkSha256(values['image-sha256']);
  return { board: values.board, retries, quarantineAfter, lockTimeout, parallel, suites, imageSha256 };
}

/**
 * The suites whose options the command line may carry: the built-in ones and the user suites it
 * names (their manifests are read before the options are parsed, so that `--suite ./mine --depth 3`
 * knows --depth). A bad suite path is bad input here, before any board is touched.
 */
async function optionCatalog(argv: string[]): Promise<SuiteEntry[]> {
  const { builtinSuites, loadSuites } = await import('../catalog/suites.js');
  const { isSuitePath } = await import('../catalog/user-suites.js');
  const given = suiteArgument(argv);
  const paths = (given ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x && isSuitePath(x));
  const all = [...(await builtinSuites()), ...(await loadSuites(paths))];
  // One suite named twice (its folder and one of its files) declares its options once.
  return all.filter((e, i) => all.findIndex((o) => o.name === e.name) === i);
}

/** The last `--suite` value in argv (`--suite X` or `--suite=X`), before the options are parsed. */
function suiteArgument(argv: string[]): string | undefined {
  let value: string | undefined;
  argv.forEach((a, i) => {
    if (a === '--suite') value = argv[i + 1];
    else if (a.startsWith('--suite=')) value = a.slice('--suite='.length);
  });
  return value;
}

async function main(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'run') argv = argv.slice(1);
  const { loadSuites } = await import('../catalog/suites.js');
  const catalog = await optionCatalog(argv);
  const parsed = parseOptions('run', argv, RUN_OPTIONS, { extra: suiteOptionTable(catalog) });
  const values = { ...parsed.values, suite: parsed.values.suite ?? suitesFor('default', catalog).join(',') };
  const s = settings(values);
  if (io.env.HW_TEST_SSH_KEY) inputFile(io.env.HW_TEST_SSH_KEY, `HW_TEST_SSH_KEY ${io.env.HW_TEST_SSH_KEY}`);
  const labFile = values.lab ?? io.env.HW_TEST_LAB;
  const { loadOsProfile } = await import('../catalog/os-profile.js');
  const os = loadOsProfile(values.os ? path.resolve(values.os) : undefined);
  const { resolveBoards } = await import('../runner/multi.js');
  // Each board as this run sees it: the OS profile's timeouts and markers, then --timeout's.
  const { effectiveBoardType, parseTimeoutOption } = await import('../catalog/effective-board.js');
  const timeouts = values.timeout ? parseTimeoutOption(values.timeout) : {};
  const boards = (await resolveBoards(s.board, labFile)).map((b) => ({
    ...b,
    type: effectiveBoardType(b.type, os, timeouts),
  }));
  // An unknown suite is bad input before any board is touched; reports name suites by their names.
  const names = (await loadSuites(s.suites)).map((e) => e.name);
  const files = artifactFiles(catalog, parsed.extra, names, io);
  const reports = path.resolve(values.reports);
  const summaries =
    boards.length > 1
      ? await runMany(boards, argv, s.parallel, io)
      : [await runOne(boards[0], { values, suiteValues: parsed.extra, files, settings: s, os, reports }, io)];
  // The parent prints the summary of every board; it finds each child's report from what it tells.
  if (io.env.HW_TEST_CHILD) {
    const { tellRunDir } = await import('../runner/multi.js');
    for (const x of summaries) await tellRunDir(io.env, path.join(reports, x.board, x.runId));
    return exitFor(summaries);
  }
  await printResults(summaries, reports, names, io);
  if (summaries.length < boards.length && !io.signal.aborted) return 3;
  return exitFor(summaries);
}

/**
 * The files given for the suites' artifacts, by option: a missing file (or a directory, a FIFO) is
 * bad input before any board is touched; a URL's credentials are secrets from here on (the
 * reproduce line quotes it).
 */
function artifactFiles(
  catalog: readonly SuiteEntry[],
  values: Record<string, string | undefined>,
  suites: readonly string[],
  io: CliIo,
): Record<string, string> {
  const files: Record<string, string> = {};
  for (const a of suiteArtifactOptions(catalog)) {
    const v = values[a.option];
    if (!v || a.option in files) continue;
    registerUrlSecrets(v);
    const url = /^https?:\/\//.test(v);
    if (!url) inputFile(v, `--${a.option} ${v}`);
    if (!suites.includes(a.suite))
      io.err(`hw-test: --${a.option} is for the ${a.suite} suite, which this run does not run: ignored`);
    files[a.option] = url ? v : path.resolve(v);
  }
  return files;
}

/** One board, in this process. */
async function runOne(
  b: ResolvedBoard,
  r: {
    values: RunValues;
    suiteValues: Record<string, string | undefined>;
    files: Record<string, string>;
    settings: ReturnType<typeof settings>;
    os: OsProfile;
    reports: string;
  },
  io: CliIo,
): Promise<RunSummary> {
  const { runBoard } = await import('../runner/run-board.js');
  const { progressView } = await import('./progress.js');
  const { terminalReporter } = await import('./run-lines.js');
  const { values, suiteValues, settings: s } = r;
  const image = values.image && !/^https?:/.test(values.image) ? path.resolve(values.image) : values.image;
  return runBoard({
    board: b,
    os: r.os,
    image,
    imageSha256: s.imageSha256,
    suites: s.suites,
    grep: values.grep,
    reportsDir: r.reports,
    lockTimeoutMs: s.lockTimeout * 1000,
    suiteOptions: given(suiteValues, r.files),
    artifactFiles: r.files,
    signal: io.signal,
    interactive: io.interactive,
    env: io.env,
    reproduce: reproduceCommand({ ...values, ...suiteValues }, b.name, b.labFile, Object.keys(suiteValues)),
    retries: s.retries,
    quarantineAfter: s.quarantineAfter,
    progress: (label) => progressView(io, label),
    reporters: [terminalReporter(io)],
  });
}

/**
 * The suites' options that were given (every suite sees them all, and reads those it declared);
 * the artifact files go to the preparation instead.
 */
function given(values: Record<string, string | undefined>, files: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v && !(k in files)) out[k] = v;
  return out;
}

/** Several boards: a child process each (rig/runner/multi.ts), then each board's summary.json. */
async function runMany(
  boards: ResolvedBoard[],
  argv: string[],
  parallel: number,
  io: CliIo,
): Promise<RunSummary[]> {
  const { runChildren } = await import('../runner/multi.js');
  const { readFile } = await import('node:fs/promises');
  const rest = withoutOptions(argv, ['--board', '--parallel']);
  const children = await runChildren(
    boards.map((b) => b.name),
    rest,
    { parallel, signal: io.signal, err: (l) => io.err(l) },
  );
  const summaries: RunSummary[] = [];
  for (const b of boards) {
    // The child's own run folder: `latest` stays put when its run was refused (busy, quarantined).
    const runDir = children.find((c) => c.board === b.name)?.runDir;
    const file = runDir && path.join(runDir, 'summary.json');
    try {
      if (!file) throw new Error('no run folder');
      summaries.push(JSON.parse(await readFile(file, 'utf8')) as RunSummary);
    } catch {
      io.err(`${b.name}: no report was written${file ? ` (${file})` : ''}`);
    }
  }
  return summaries;
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

async function printResults(
  summaries: RunSummary[],
  reports: string,
  suites: string[],
  io: CliIo,
): Promise<void> {
  const { summaryLines } = await import('../report/console.js');
  for (const line of summaryLines(summaries, reports)) io.out(line);
  if (summaries.length <= 1) return;
  const { combinedRows, combinedTable, writeCombined } = await import('../report/combined.js');
  const rows = combinedRows(summaries, reports);
  io.out('');
  for (const line of combinedTable(rows, suites)) io.out(line);
  const file = await writeCombined(reports, rows, new Date().toISOString().replace(/[-:]/g, '').slice(0, 15));
  io.out(`combined summary: ${path.relative(process.cwd(), file)}`);
}

export const command: CliCommand = {
  summary: 'flash, boot and test a board',
  usage: helpText({ synopsis: SYNOPSIS, options: RUN_OPTIONS }),
  help: async (argv) => `${SYNOPSIS}\n\n${(await runOptionLines('  ', argv)).join('\n')}`,
  main,
};
