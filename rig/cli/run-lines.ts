import { errorMessage } from '../errors.js';
import type { RunReporter } from '../runner/events.js';
import { describeHolder } from '../runner/lock.js';
import type { CliIo } from './io.js';

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** The run's events as the lines a person (or a Jenkins log) reads, on stderr. */
export function terminalReporter(io: Pick<CliIo, 'err'>): RunReporter {
  const info = (line: string) => io.err(line);
  const warn = (line: string) => io.err(`warning: ${line}`);
  return {
    stepBegin: (board, step) => info(`${board}: ${step}...`),
    stepEnd: (board, r) =>
      info(
        `${board}: ${r.name} ${r.verdict === 'pass' ? 'done' : r.verdict} in ${seconds(r.durationMs)} s${r.message ? `: ${r.message}` : ''}`,
      ),
    lockWait: (board, holder, timeoutMs) =>
      warn(
        `${board} is in use by ${holder ? describeHolder(holder) : 'another run'}; waiting up to ${timeoutMs / 1000} s`,
      ),
    lockTakeOver: (board, previous) =>
      warn(`${board}: the previous holder (${describeHolder(previous)}) is gone; taking over its lock`),
    imageLog: (_board, line) => info(line),
    retry: (board, what, n, retries, why) =>
      warn(
        what === 'flash'
          ? `${board}: flash failed (${why}); retrying (infra retry ${n}/${retries})`
          : `${board}: ${why}; power cycling and booting again (infra retry ${n}/${retries})`,
      ),
    flasherDone: (board, stage, marker) =>
      info(
        `${board}: the flasher wrote internal storage in ${seconds(stage.flasherMs)} s (done by ${stage.doneBy === 'console' ? `"${marker}" on the console` : 'the current reading'}); booting from internal storage`,
      ),
    testEnd: (board, r) =>
      info(
        `${board}:   ${r.verdict.padEnd(7)} ${r.suite}: ${r.title} (${seconds(r.durationMs)} s)${r.verdict === 'skipped' ? `: ${r.skipReason}` : r.message ? `: ${r.message.split('\n')[0]}` : ''}`,
      ),
    reportProblem: (_board, what, err) => warn(`cannot write ${what}: ${errorMessage(err)}`),
    quarantined: (board, reason) => warn(`${board} is now quarantined: ${reason}`),
    runEnd: (board, verdict, runDir) => info(`${board}: verdict ${verdict}; report in ${runDir}`),
  };
}
