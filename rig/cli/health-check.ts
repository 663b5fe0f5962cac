import path from 'node:path';
import { loadOsProfile } from '../catalog/os-profile.js';
import { InputError } from '../errors.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import { terminalReporter } from './run-lines.js';
import type { CliCommand, CliIo } from './io.js';

const OPTIONS = [
  { name: 'board', value: 'NAME', description: 'board type (virtual) or lab instance' },
  { name: 'lab', value: 'FILE', description: 'lab wiring file (default: $HW_TEST_LAB)' },
  {
    name: 'image',
    value: 'KNOWN_GOOD',
    description: "the known-good image (default: the virtual board's reference image)",
  },
  { name: 'os', value: 'FILE', description: 'OS profile of that image (default: the reference OS)' },
  { name: 'reports', value: 'DIR', description: 'report folder (default: ./reports)', default: 'reports' },
] as const satisfies OptionTable;

const USAGE = helpText({
  synopsis: 'Usage: hw-test health-check --board NAME [--lab FILE] [--image KNOWN_GOOD] [--reports DIR]',
  intro: `Checks the wiring (doctor, for lab boards) and boots the board's known-good image through the boot
suite. When both pass, the board's quarantine is lifted; otherwise it stays out of the nightly.`,
  options: OPTIONS,
  notes: 'Exit 0 healthy, 3 not.',
});

async function main(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions('health-check', argv, OPTIONS);
  if (!values.board) throw new InputError('health-check: --board is required');
  const labFile = values.lab ?? io.env.HW_TEST_LAB;
  const { resolveBoard } = await import('../runner/board-factory.js');
  const board = await resolveBoard(values.board, labFile);
  if (board.labFile && board.wiring) {
    const { checkWiring } = await import('./doctor.js');
    const code = await checkWiring(
      { board: board.name, labFile: board.labFile, lab: board.wiring.lab, env: io.env },
      io,
    );
    if (code !== 0) {
      io.err(`health-check: doctor found a wiring problem on ${board.name}: the board stays quarantined`);
      return 3;
    }
  }
  const { runBoard } = await import('../runner/run-board.js');
  const { builtinSuites, suitesFor } = await import('../catalog/suites.js');
  const summary = await runBoard({
    board,
    os: loadOsProfile(values.os ? path.resolve(values.os) : undefined),
    image: values.image ? path.resolve(values.image) : undefined,
    suites: suitesFor('healthCheck', await builtinSuites()),
    reportsDir: path.resolve(values.reports),
    lockTimeoutMs: 600_000,
    suiteOptions: {},
    signal: io.signal,
    interactive: io.interactive,
    env: io.env,
    reproduce: `npm run hw-test -- health-check --board ${board.name}`,
    healthCheck: true,
    reporters: [terminalReporter(io)],
  });
  if (summary.verdict === 'pass') {
    io.out(`${board.name}: healthy; quarantine lifted`);
    return 0;
  }
  if (summary.verdict === 'interrupted') return 130;
  io.out(`${board.name}: NOT healthy (${summary.verdict}): ${summary.message ?? ''}`);
  return 3;
}

export const command: CliCommand = {
  summary: 'doctor plus a boot of the known-good image; lifts a quarantine',
  usage: USAGE,
  main,
};
