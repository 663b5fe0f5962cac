import path from 'node:path';
import type { OsProfile } from '../catalog/os-profile.js';
import { InputError } from '../errors.js';
import { HandsOnLog, handsOnLogPath, type HandsOnCommand } from '../hands-on/log.js';
import type { ResolvedBoard } from '../runner/board-factory.js';
import type { RunReporter } from '../runner/events.js';
import type { OptionSpec } from './options.js';
import type { CliIo } from './io.js';

/** The options every hands-on command takes (console, power, ssh). */
export const HANDS_ON_OPTIONS = [
  { name: 'board', value: 'NAME', description: 'board type (virtual) or lab instance' },
  { name: 'lab', value: 'FILE', description: 'lab wiring file (default: $HW_TEST_LAB)' },
  {
    name: 'os',
    value: 'FILE',
    description: 'OS profile of the image on the board (default: the reference OS)',
  },
  {
    name: 'reports',
    value: 'DIR',
    description: 'the log goes to DIR/<board>/hands-on/ (default: ./reports)',
    default: 'reports',
  },
  {
    name: 'lock-timeout',
    value: 'S',
    description: 'wait this long for a board another run holds (default: 0, say who holds it)',
    default: '0',
  },
] as const satisfies readonly OptionSpec[];

export interface HandsOnTarget {
  board: ResolvedBoard;
  os: OsProfile;
  reportsDir: string;
  lockTimeoutMs: number;
  log: HandsOnLog;
}

/** The board, its OS profile and the log of a hands-on command; bad input in one line. */
export async function handsOnTarget(
  command: HandsOnCommand,
  values: { board?: string; lab?: string; os?: string; reports: string; 'lock-timeout': string },
  io: CliIo,
): Promise<HandsOnTarget> {
  if (!values.board) throw new InputError(`${command}: --board is required (hw-test boards lists them)`);
  const lockTimeout = Number(values['lock-timeout']);
  if (!Number.isFinite(lockTimeout) || lockTimeout < 0)
    throw new InputError(`--lock-timeout ${values['lock-timeout']}: expected seconds`);
  const { resolveBoard } = await import('../runner/board-factory.js');
  const { loadOsProfile } = await import('../catalog/os-profile.js');
  const os = loadOsProfile(values.os ? path.resolve(values.os) : undefined);
  // The board as a run sees it: the OS profile's timeouts and boot markers applied.
  const { effectiveBoardType } = await import('../catalog/effective-board.js');
  const resolved = await resolveBoard(values.board, values.lab ?? io.env.HW_TEST_LAB);
  const board = { ...resolved, type: effectiveBoardType(resolved.type, os) };
  const reportsDir = path.resolve(values.reports);
  const log = new HandsOnLog(handsOnLogPath(reportsDir, board.name, command));
  return { board, os, reportsDir, lockTimeoutMs: lockTimeout * 1000, log };
}

/** The path as a person reads it: relative to here when below here. */
export function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

/** A session's steps into its log (the terminal gets them from the run's own reporter). */
export function logReporter(log: HandsOnLog): RunReporter {
  return {
    stepEnd: (_board, r) =>
      log.event(
        `${r.name} ${r.verdict === 'pass' ? 'done' : r.verdict} in ${(r.durationMs / 1000).toFixed(1)} s${r.message ? `: ${r.message}` : ''}`,
      ),
    lockWait: (_board, holder) => log.event(`waiting for the lock, held by pid ${holder?.pid ?? '?'}`),
    imageLog: (_board, line) => log.event(line),
  };
}

/** Who asks, for the session's log: `pid 1234 (hw-test power cycle)`. */
export function requester(what: string): string {
  return `pid ${process.pid} (hw-test ${what})`;
}
