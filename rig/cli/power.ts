import { InputError } from '../errors.js';
import type { PowerAction } from '../hands-on/control.js';
import { HANDS_ON_OPTIONS, handsOnTarget, requester, shown, type HandsOnTarget } from './hands-on.js';
import { helpText, parseOptions } from './options.js';
import type { CliCommand, CliIo } from './io.js';

const ACTIONS: readonly PowerAction[] = ['on', 'off', 'cycle'];

const USAGE = helpText({
  synopsis: 'Usage: hw-test power on|off|cycle --board NAME [--lab FILE] [--lock-timeout S]',
  intro: `Switches a board's power. A real board (lab file) is switched through its power driver under
the board's lock (the SD mux goes to the board first, as in a run), and stays as it was left. A board
held by a console session (hw-test console) is switched by that session, under its lock. A virtual
board lives only inside a console session: start one first. The log goes to
REPORTS/<board>/hands-on/<time>-power.log.`,
  options: HANDS_ON_OPTIONS,
  notes: 'Exit 0 done, 2 bad input (or a virtual board with no session), 3 the switch or the lock failed.',
});

async function main(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions('power', argv, HANDS_ON_OPTIONS, { positionals: true });
  const action = positionals[0] as PowerAction | undefined;
  if (positionals.length !== 1 || !ACTIONS.includes(action!)) {
    throw new InputError(
      `power: expected on, off or cycle, got "${positionals.join(' ')}" (see hw-test power --help)`,
    );
  }
  const target = await handsOnTarget('power', values, io);
  const { board, log } = target;
  const t0 = Date.now();
  log.event(`power ${action} on ${board.name} (pid ${process.pid})`);
  const { askControl } = await import('../hands-on/control.js');
  const bySession = await askControl<{ state: string }>(
    board.name,
    { op: 'power', action: action!, from: requester(`power ${action}`) },
    { env: io.env, timeoutMs: 120_000 },
  );
  let state: string;
  let how: string;
  if (bySession) {
    state = bySession.state;
    how = 'by its console session';
  } else if (board.type.virtual) {
    throw new InputError(
      `${board.name} is a virtual board: it runs only inside a console session; start hw-test console --board ${board.name} (in another terminal), then power it from here`,
    );
  } else {
    state = await switchLabBoard(target, action!, io);
    how = 'under its lock';
  }
  const line = `${board.name}: power ${action} done in ${((Date.now() - t0) / 1000).toFixed(1)} s (${how}): ${state}`;
  log.event(line);
  io.err(`${line}; log: ${shown(log.file)}`);
  return 0;
}

/** A real board, switched here: locked, its power driver (and mux), then closed as it is. */
async function switchLabBoard(target: HandsOnTarget, action: PowerAction, io: CliIo): Promise<string> {
  const { board, os, log } = target;
  const { lockBoard, describeHolder } = await import('../runner/lock.js');
  const lock = await lockBoard(board.name, {
    timeoutMs: target.lockTimeoutMs,
    signal: io.signal,
    env: io.env,
    onWait: (h) => io.err(`${board.name} is in use by ${h ? describeHolder(h) : 'another run'}; waiting`),
  });
  try {
    const { openBoard } = await import('../runner/board-factory.js');
    const instance = await openBoard(board, { os, env: io.env });
    try {
      await instance.power[action](io.signal);
      for (const s of instance.steps ?? [])
        log.event(`${s.name} ${s.verdict} in ${(s.durationMs / 1000).toFixed(1)} s`);
      return await instance.power.state();
    } finally {
      // Closed, not released: the board stays as the person asked.
      await instance.power.close();
      await instance.mux?.close();
      await instance.console.close();
    }
  } finally {
    await lock.release();
  }
}

export const command: CliCommand = {
  summary: "switch a board's power: on, off or cycle, under its lock",
  usage: USAGE,
  main,
};
