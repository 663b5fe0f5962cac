import { InputError } from '../errors.js';
import type { SshEndpoint } from '../hands-on/control.js';
import type { HandsOnLog } from '../hands-on/log.js';
import type { SshDut } from '../net/ssh.js';
import { HANDS_ON_OPTIONS, handsOnTarget, requester, shown, type HandsOnTarget } from './hands-on.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import type { CliCommand, CliIo } from './io.js';

const OPTIONS = [
  ...HANDS_ON_OPTIONS,
  {
    name: 'host',
    value: 'ADDRESS',
    description: "a real board's address, when no console session flashed it",
  },
  {
    name: 'key',
    value: 'FILE',
    description:
      "the private key the image trusts, with --host (default: $HW_TEST_SSH_KEY, then the OS profile's ssh.key)",
  },
] as const satisfies OptionTable;

const USAGE = helpText({
  synopsis: 'Usage: hw-test ssh --board NAME [--host ADDRESS --key FILE] [-- COMMAND...]',
  intro: `A shell on the board over SSH (ssh2), or one command: hw-test ssh --board NAME -- uname -a
(its exit code is this command's). A board a console session started (hw-test console) is reached
with that session's key and network: the session holds the board's lock. A real board without
one is reached at --host with --key, under its lock. What was sent and seen goes to
REPORTS/<board>/hands-on/<time>-ssh.log.`,
  options: OPTIONS,
  notes:
    "Exit: the command's or the shell's exit code; 1 no SSH login in time; 2 bad input (no session and no --host); 3 the lock or the session failed; 130 interrupted.",
});

async function main(argv: string[], io: CliIo): Promise<number> {
  const dash = argv.indexOf('--');
  const command = dash < 0 ? undefined : argv.slice(dash + 1).join(' ');
  const { values } = parseOptions('ssh', dash < 0 ? argv : argv.slice(0, dash), OPTIONS);
  if (command === '') throw new InputError('ssh: nothing after --: give a command, or no -- for a shell');
  const target = await handsOnTarget('ssh', values, io);
  const { board, log } = target;
  log.event(`ssh to ${board.name} (pid ${process.pid}): ${command ?? 'a shell'}`);
  let release = async () => {};
  let endpoint: SshEndpoint | undefined;
  if (!values.host) {
    const { askControl } = await import('../hands-on/control.js');
    endpoint = await askControl<SshEndpoint>(
      board.name,
      { op: 'ssh', from: requester('ssh') },
      { env: io.env, timeoutMs: 600_000 },
    );
    if (!endpoint) {
      throw new InputError(
        board.type.virtual
          ? `${board.name} is a virtual board: it runs only inside a console session; start hw-test console --board ${board.name} (in another terminal), then ssh from here`
          : `${board.name}: no console session flashed it: give --host ADDRESS (and --key FILE), or start hw-test console --board ${board.name} --image IMAGE`,
      );
    }
  } else {
    ({ endpoint, release } = await direct(target, values.host, values.key ?? io.env.HW_TEST_SSH_KEY, io));
  }
  try {
    return await login(endpoint, command, target, io);
  } finally {
    await release();
  }
}

/** A real board at --host: the key given, the profile's user and port, under the board's lock. */
async function direct(target: HandsOnTarget, host: string, keyFile: string | undefined, io: CliIo) {
  const { sshLogin } = await import('../catalog/os-expect.js');
  const login = sshLogin(target.os);
  const file = keyFile ?? target.os.ssh.key;
  if (!file && !login.password)
    throw new InputError(
      'ssh: --host needs --key FILE (or HW_TEST_SSH_KEY, or ssh.key or ssh.password in the OS profile): the key the image trusts',
    );
  const { generateRunKey, loadPrivateKey } = await import('../net/ssh-key.js');
  // With the profile's password alone, a throwaway key is offered first and refused.
  const key = file ? loadPrivateKey(file) : generateRunKey();
  const { lockBoard } = await import('../runner/lock.js');
  const lock = await lockBoard(target.board.name, {
    timeoutMs: target.lockTimeoutMs,
    signal: io.signal,
    env: io.env,
  });
  const endpoint: SshEndpoint = { host, ...login, privateKey: key.privateKey };
  return { endpoint, release: () => lock.release() };
}

async function login(endpoint: SshEndpoint, command: string | undefined, target: HandsOnTarget, io: CliIo) {
  const { board, log } = target;
  const { registerKey } = await import('../net/ssh-key.js');
  registerKey(endpoint.privateKey);
  const { registerSecret } = await import('../log.js');
  registerSecret(endpoint.password);
  const { RunHostKeys, sshConnect } = await import('../net/ssh.js');
  const dut = await sshConnect(
    {
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      key: { privateKey: endpoint.privateKey, publicKey: '' },
      password: endpoint.password,
      hostKeys: new RunHostKeys(),
      board: board.name,
    },
    { timeoutMs: (board.type.timeouts.ssh ?? 60) * 1000, signal: io.signal },
  );
  log.event(`logged in as ${endpoint.user}@${endpoint.host}:${endpoint.port}`);
  try {
    const code = await attach(dut, command, log, io);
    log.event(`exit ${code}`);
    if (!command) io.err(`${board.name}: ssh session ended (exit ${code}); log: ${shown(log.file)}`);
    return code;
  } finally {
    await dut.close();
  }
}

/** The channel wired to this terminal: raw keys to a pty for a shell, plain streams for a command. */
async function attach(dut: SshDut, command: string | undefined, log: HandsOnLog, io: CliIo): Promise<number> {
  const input = io.terminal?.input ?? process.stdin;
  const output = io.terminal?.output ?? process.stdout;
  const tty = input.isTTY === true && output.isTTY === true;
  const pty = tty ? { term: io.env.TERM ?? 'vt100', rows: output.rows, cols: output.columns } : undefined;
  const channel = await dut.open({ command, pty: command === undefined ? pty : undefined });
  const onResize = () => channel.setWindow(output.rows, output.columns, 0, 0);
  const onAbort = () => channel.close();
  if (tty && command === undefined) {
    input.setRawMode(true);
    output.on('resize', onResize);
  }
  io.signal.addEventListener('abort', onAbort, { once: true });
  const onInput = (d: Buffer) => channel.write(d);
  input.on('data', onInput);
  input.once('end', () => channel.end());
  input.resume();
  channel.on('data', (d: Buffer) => {
    output.write(d);
    log.output(d, 'stdout');
  });
  channel.stderr.on('data', (d: Buffer) => {
    process.stderr.write(d);
    log.output(d, 'stderr');
  });
  try {
    const code = await new Promise<number>((resolve) => {
      let exit = 255;
      channel.on('exit', (c: number | null, signal?: string) => (exit = c ?? (signal ? 128 : 255)));
      channel.on('close', () => resolve(exit));
    });
    // SIGINT/SIGTERM closed the channel: the command was cut short here, not on the board.
    return io.signal.aborted ? 130 : code;
  } finally {
    input.off('data', onInput);
    input.pause();
    output.off('resize', onResize);
    io.signal.removeEventListener('abort', onAbort);
    if (tty && command === undefined) input.setRawMode(false);
    log.flushPartial('stdout');
  }
}

export const command: CliCommand = {
  summary: 'a shell or a command on a board over SSH',
  usage: USAGE,
  main,
};
