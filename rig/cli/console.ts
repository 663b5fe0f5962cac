import { existsSync } from 'node:fs';
import { InputError, errorMessage } from '../errors.js';
import type { ControlServer, PowerAction } from '../hands-on/control.js';
import { ESCAPE_HELP } from '../hands-on/escape.js';
import type { HandsOnSession } from '../hands-on/session.js';
import { HANDS_ON_OPTIONS, handsOnTarget, logReporter, shown, type HandsOnTarget } from './hands-on.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import type { CliCommand, CliIo } from './io.js';

const OPTIONS = [
  ...HANDS_ON_OPTIONS,
  {
    name: 'image',
    value: 'PATH|URL',
    description:
      "flash this image and power the board on (default: a virtual board's reference image; a real board without it is attached as it is)",
  },
] as const satisfies OptionTable;

const USAGE = helpText({
  synopsis: 'Usage: hw-test console --board NAME [--image PATH|URL] [--lab FILE] [--reports DIR]',
  intro: `The board's serial console in this terminal, under the board's lock, until you leave:
${ESCAPE_HELP}. Everything else you type goes to the board, Ctrl-C included.

A virtual board lives as long as this session: it is prepared, flashed and powered on with the
image (default: its reference image) on a network of its own, and powered off when you leave. From
another terminal meanwhile: hw-test ssh --board NAME, hw-test power cycle --board NAME. A real board
(lab file) is attached as it is (power untouched), or flashed and powered on with --image.
What the board printed goes to a log, REPORTS/<board>/hands-on/<time>-console.log.`,
  options: OPTIONS,
  notes: 'Exit 0 when you leave, 130 when interrupted (SIGTERM, SIGHUP).',
});

async function main(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions('console', argv, OPTIONS);
  // Before the board is locked: bad input is one line, not a session's steps.
  if (values.image && !/^https?:\/\//.test(values.image) && !existsSync(values.image))
    throw new InputError(`--image ${values.image}: no such file`, { file: values.image });
  const target = await handsOnTarget('console', values, io);
  const { board, log } = target;
  io.err(`${board.name}: hands-on console; log: ${shown(log.file)}`);
  log.event(`console on ${board.name} (pid ${process.pid})${values.image ? ` with ${values.image}` : ''}`);
  const { openSession } = await import('../hands-on/session.js');
  const { terminalReporter } = await import('./run-lines.js');
  const { progressView } = await import('./progress.js');
  const path = await import('node:path');
  const image =
    values.image && !/^https?:\/\//.test(values.image) ? path.resolve(values.image) : values.image;
  const session = await openSession({
    ...target,
    image,
    signal: io.signal,
    env: io.env,
    reporters: [terminalReporter(io), logReporter(log)],
    interactive: io.interactive,
    progress: (label) => progressView(io, label),
  });
  let how: 'quit' | 'aborted' = 'aborted';
  try {
    how = await attend(session, target, io);
  } finally {
    log.event(how === 'quit' ? 'left the console' : 'interrupted');
    await session.close();
    log.event(session.image ? `${board.name} powered off and released` : `${board.name} released`);
    io.err(
      `${board.name}: ${how === 'quit' ? 'left the console' : 'interrupted'}; ${session.image ? 'powered off and ' : ''}released; log: ${shown(log.file)}`,
    );
  }
  return how === 'quit' ? 0 : 130;
}

/** The session's console in the terminal, and its control socket for the other terminals. */
async function attend(
  session: HandsOnSession,
  target: HandsOnTarget,
  io: CliIo,
): Promise<'quit' | 'aborted'> {
  const { board, log } = target;
  const input = io.terminal?.input ?? process.stdin;
  const output = io.terminal?.output ?? process.stdout;
  const raw = input.isTTY === true;
  const note = (line: string) => io.err(`\r[hw-test] ${line}`);
  const power = async (action: PowerAction, from: string) => {
    const t0 = Date.now();
    note(`power ${action} (${from})`);
    log.event(`power ${action} (${from})`);
    await session.power(action, io.signal);
    const state = await session.instance.power.state();
    log.event(`power ${action} done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${state}`);
    return { state, ms: Date.now() - t0 };
  };
  const { serveControl } = await import('../hands-on/control.js');
  const control: ControlServer = await serveControl(
    board.name,
    {
      power,
      ssh: async (from) => {
        log.event(`SSH endpoint asked by ${from}`);
        return session.sshEndpoint(io.signal);
      },
      info: () => ({ board: board.name, pid: process.pid, log: log.file, image: session.image?.source }),
    },
    io.env,
  );
  note(`connected to ${board.name}'s console: ${ESCAPE_HELP}`);
  if (session.image) {
    note(
      `from another terminal: hw-test ssh --board ${board.name}; hw-test power on|off|cycle --board ${board.name}`,
    );
  }
  if (!raw) note('stdin is not a terminal: the session ends on Ctrl-] q in the input, SIGINT or SIGTERM');
  const { bridgeConsole } = await import('../hands-on/bridge.js');
  if (raw) input.setRawMode(true);
  try {
    return await bridgeConsole({
      console: session.instance.console,
      input,
      output,
      log,
      signal: io.signal,
      note,
      cycle: () => power('cycle', 'Ctrl-] c').then(() => undefined),
    });
  } finally {
    if (raw) input.setRawMode(false);
    await control.close().catch((err: unknown) => io.err(`warning: ${errorMessage(err)}`));
  }
}

export const command: CliCommand = {
  summary: "a board's serial console in your terminal (a virtual board is started for it)",
  usage: USAGE,
  main,
};
