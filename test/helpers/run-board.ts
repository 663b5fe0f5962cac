/**
 * One board run in a process of its own, with runner options the CLI does not have (a test's
 * fault injection, e.g. `wifiApPassphrase`):
 *
 *   node dist/test/helpers/run-board.js '{"board":"qemu-x86-64","suites":["wifi"],"reportsDir":"R",...}'
 *
 * A process of its own because mocha loads a suite's spec module once per process: a second
 * in-process run of the same suite would find it registered already and run none of its tests.
 * Prints the runner's lines on stderr; exits with the run's exit code.
 */
import { loadBoard } from '../../rig/catalog/board.js';
import { loadOsProfile } from '../../rig/catalog/os-profile.js';
import { terminalReporter } from '../../rig/cli/run-lines.js';
import { runBoard, type BoardRunOptions } from '../../rig/runner/run-board.js';

type Args = Pick<BoardRunOptions, 'suites' | 'reportsDir' | 'wifiApPassphrase' | 'image'> & { board: string };

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const ctl = new AbortController();
process.once('SIGTERM', () => ctl.abort());
const type = loadBoard(args.board);
const summary = await runBoard({
  board: { name: type.name, type },
  os: loadOsProfile(),
  image: args.image,
  suites: args.suites,
  reportsDir: args.reportsDir,
  wifiApPassphrase: args.wifiApPassphrase,
  lockTimeoutMs: 1_200_000,
  suiteOptions: {},
  signal: ctl.signal,
  reporters: [terminalReporter({ err: (l) => console.error(l) })],
  interactive: false,
  env: process.env,
  reproduce: `node dist/test/helpers/run-board.js (${args.board})`,
});
process.exitCode = summary.exitCode;
