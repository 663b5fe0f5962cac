#!/usr/bin/env node
import { HwTestError, exitCodeFor, errorMessage } from '../errors.js';
import { mask, registerUrlSecrets } from '../log.js';
import { isInteractive, type CliCommand, type CliIo } from './io.js';
import { handleSignals } from './signals.js';

/**
 * Subcommands are imported on demand, so that `--help` and `boards` load no driver, QEMU helper
 * or reporter (they must answer in well under 300 ms).
 */
const COMMANDS: Record<string, () => Promise<{ command: CliCommand }>> = {
  run: () => import('./run.js'),
  boards: () => import('./boards.js'),
  doctor: () => import('./doctor.js'),
  drivers: () => import('./drivers.js'),
  flash: () => import('./flash.js'),
  image: () => import('./image.js'),
  report: () => import('./report.js'),
  dashboard: () => import('./dashboard.js'),
  'health-check': () => import('./health-check.js'),
  power: () => import('./power.js'),
  console: () => import('./console.js'),
  ssh: () => import('./ssh.js'),
};

const SUMMARIES: Record<string, string> = {
  run: 'flash, boot and test a board (the default: `hw-test --board NAME`)',
  boards: 'list the board types, their capabilities and whether they are wired on this host',
  doctor:
    "check a board's wiring (serial, GPIO, mux, power, tools) without flashing, or an OS profile against an image",
  drivers: 'list the drivers a lab file can name (power, mux, GPIO), with their keys',
  flash: 'write an image to a device or file, sparse, with read-back verify',
  image: 'build, configure or check images (the reference OS, a stock distribution, yours)',
  report: 'render Allure HTML from a run directory',
  dashboard: 'write a static lab dashboard (board x suite matrix, trends)',
  'health-check': 'doctor plus a boot of the known-good image; lifts a quarantine',
  power: "switch a board's power: on, off or cycle, under its lock",
  console: "a board's serial console in your terminal (a virtual board is started for it)",
  ssh: 'a shell or a command on a board over SSH',
};

/** `hw-test --help`: the commands, and every run option (the suites' included) from its table. */
export async function help(): Promise<string> {
  const { runOptionLines } = await import('./run.js');
  return `hw-test: hardware-in-the-loop test rig controller

Usage:
  hw-test --board NAME [--image PATH|URL] [--suite boot,network,...] [options]
  hw-test COMMAND [options]          (hw-test COMMAND --help for its options)

Commands:
${Object.entries(SUMMARIES)
  .map(([k, v]) => `  ${k.padEnd(14)}${v}`)
  .join('\n')}

Run options:
${(await runOptionLines()).join('\n')}

Exit codes: 0 passed, 1 a test failed (the image's fault), 2 bad input,
            3 infrastructure error (the rig's fault), 4 nothing was tested (a requested
            suite ran no test: MISS), 130 interrupted.`;
}

async function main(argv: string[]): Promise<number> {
  const ctl = new AbortController();
  handleSignals(ctl);
  // A terminal that went away (EIO) or a reader that left (EPIPE) must not crash the process
  // before the teardown: nobody reads any more, so stop as on a hang-up, quietly.
  const onStreamError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EIO' && err.code !== 'EPIPE') throw err;
    if (!ctl.signal.aborted) ctl.abort('SIGHUP');
  };
  for (const stream of [process.stdin, process.stdout, process.stderr]) stream.on('error', onStreamError);

  // Every line the CLI prints is masked: a secret a board echoed, an image URL's password.
  const io: CliIo = {
    out: (l) => process.stdout.write(`${mask(l)}\n`),
    err: (l) => process.stderr.write(`${mask(l)}\n`),
    interactive: isInteractive(process.env),
    env: process.env,
    signal: ctl.signal,
    terminal: { input: process.stdin, output: process.stdout },
  };

  // An image URL's credentials are secrets from the start: masked in any line that quotes them.
  for (const a of argv) {
    if (a.includes('://')) registerUrlSecrets(a.startsWith('-') ? a.slice(a.indexOf('=') + 1) : a);
  }
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(await help());
    return first === undefined ? 2 : 0;
  }
  const name = first.startsWith('-') ? 'run' : first;
  const load = COMMANDS[name];
  if (!load) {
    io.err(
      `hw-test: unknown command "${name}"; commands are ${Object.keys(COMMANDS).join(', ')} (see hw-test --help)`,
    );
    return 2;
  }
  const { command } = await load();
  const args = name === first ? argv.slice(1) : argv;
  // After `--` come a board's command's own arguments (hw-test ssh -- ls --help).
  const own = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (own.includes('--help') || own.includes('-h')) {
    io.out(`${command.summary}\n\n${command.help ? await command.help(own) : command.usage}`);
    return 0;
  }
  return command.main(args, io);
}

let settled = false;

/**
 * The run is over and reported: a handle some library left open (a half-closed socket to a board
 * that was powered off) must not keep a Jenkins step waiting. Unref'd, so a clean exit is not delayed.
 */
function lingerGuard(): void {
  setTimeout(() => process.exit(), 5000).unref();
}
// An event loop that drains while the run is still pending (a stalled stream) must not exit 0.
process.on('exit', () => {
  if (!settled && !process.exitCode) {
    process.stderr.write('hw-test: internal error: the run ended without a result\n');
    process.exitCode = 1;
  }
});

main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
    lingerGuard();
  },
  (err: unknown) => {
    settled = true;
    lingerGuard();
    if (err instanceof HwTestError) {
      process.stderr.write(`hw-test: ${mask(errorMessage(err))}\n`);
      process.exitCode = exitCodeFor(err.class === 'input' ? 'input' : err.class);
    } else {
      process.stderr.write(
        `hw-test: internal error: ${mask(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`,
      );
      process.exitCode = 1;
    }
  },
);
