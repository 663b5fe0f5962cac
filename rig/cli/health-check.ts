import path from 'node:path';
import { loadOsProfile } from '../catalog/os-profile.js';
import { InputError } from '../errors.js';
import { parse } from './args.js';
import type { CliCommand, CliIo } from './io.js';

const USAGE = `Usage: hw-test health-check --board NAME [--lab FILE] [--image KNOWN_GOOD] [--reports DIR]

Checks the wiring (doctor, for lab boards) and boots the board's known-good image through the boot
suite. When both pass, the board's quarantine is lifted; otherwise it stays out of the nightly.
Exit 0 healthy, 3 not.`;

async function main(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse('health-check', argv, {
    board: { type: 'string' },
    lab: { type: 'string' },
    image: { type: 'string' },
    os: { type: 'string' },
    reports: { type: 'string', default: 'reports' },
  });
  if (!values.board) throw new InputError('health-check: --board is required');
  const labFile = values.lab ?? io.env.HW_TEST_LAB;
  const { resolveBoard } = await import('../runner/board-factory.js');
  const board = await resolveBoard(values.board, labFile);
  if (board.labFile) {
    const { command: doctor } = await import('./doctor.js');
    const code = await doctor.main(['--board', board.name, '--lab', board.labFile], io);
    if (code !== 0) {
      io.err(`health-check: doctor found a wiring problem on ${board.name}: the board stays quarantined`);
      return 3;
    }
  }
  const { runBoard } = await import('../runner/run-board.js');
  const summary = await runBoard({
    board,
    os: loadOsProfile(values.os ? path.resolve(values.os) : undefined),
    image: values.image ? path.resolve(values.image) : undefined,
    suites: ['boot'],
    reportsDir: path.resolve(values.reports),
    lockTimeoutMs: 600_000,
    suiteOptions: {},
    signal: io.signal,
    interactive: io.interactive,
    env: io.env,
    reproduce: `npm run hw-test -- health-check --board ${board.name}`,
    healthCheck: true,
    events: { info: (l) => io.err(l), warn: (l) => io.err(`warning: ${l}`) },
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
