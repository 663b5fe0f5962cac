import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';
import { boardDisk, lockIsFree, poweredOff, until } from '../helpers/faults.js';
import { cliInPty, type PtyRun } from '../helpers/pty.js';

/**
 * hw-test console, power and ssh as a person uses them: the CLI on a pseudo-terminal (python3's
 * pty), keys typed into it, the screen read from it; the other commands from other processes,
 * as from other terminals.
 */

function logs(reports: string, board: string, command: string): string[] {
  const dir = path.join(reports, board, 'hands-on');
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(`-${command}.log`))
        .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    : [];
}

/**
 * A root shell's prompt at its end. BusyBox ash asks the terminal where its cursor is (ESC [ 6 n)
 * right after the prompt; a terminal answers, this test's does not, and ash carries on.
 */
// eslint-disable-next-line no-control-regex -- the terminal query is what ends the prompt
const PROMPT = /# (?:\x1b\[6n)?$/;

function oneLine(r: { code: number | null; stderr: string }, code: number, re: RegExp): void {
  expect(r.code, r.stderr).to.equal(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(re);
}

describe('hands-on: console, power and ssh on a virtual board, through a pty (qemu-x86-64, TCG)', function () {
  this.timeout(900_000);
  const BOARD = 'qemu-x86-64-hands';
  const home = mkdtempSync(path.join(os.tmpdir(), 'hwt-hands-'));
  const reports = path.join(home, 'reports');
  const boards = path.join(home, 'boards');
  const env = { HW_TEST_BOARDS_DIR: boards, HW_TEST_LOCK_DIR: path.join(home, 'locks') };
  /** Another terminal's command: `args`, then the board, then what comes after `--`. */
  const cli = (args: string[], command: string[] = []) =>
    runCli([...args, '--board', BOARD, '--reports', reports, ...command], { env });

  /** Terminals a failed test left open: closed, so that their sessions end and mocha exits. */
  const open: PtyRun[] = [];
  const inPty = (args: string[]) => {
    const t = cliInPty(args, { env });
    open.push(t);
    return t;
  };
  after(async function () {
    for (const t of open) t.kill('SIGKILL');
    await Promise.all(open.map((t) => t.done));
  });

  before(function () {
    const y = readFileSync(path.join(ROOT, 'boards', 'qemu-x86-64.yaml'), 'utf8');
    mkdirSync(boards, { recursive: true });
    writeFileSync(path.join(boards, `${BOARD}.yaml`), y.replace(/^name: .*$/m, `name: ${BOARD}`));
  });

  it('power and ssh need the console session a virtual board lives in: one line, exit 2', async function () {
    oneLine(
      await cli(['power', 'on']),
      2,
      /is a virtual board: it runs only inside a console session; start hw-test console/,
    );
    oneLine(
      await cli(['ssh'], ['--', 'true']),
      2,
      /is a virtual board: it runs only inside a console session/,
    );
    oneLine(await cli(['power', 'sideways']), 2, /power: expected on, off or cycle, got "sideways"/);
    // Before the board is locked or anything prepared: one line, no session steps.
    oneLine(
      await cli(['console', '--image', '/nonexistent.img']),
      2,
      /--image \/nonexistent\.img: no such file/,
    );
  });

  it('console: logs in by keys, Ctrl-C reaches the board; ssh and power from other terminals; Ctrl-] q leaves it off and unlocked, logged', async function () {
    const term = inPty(['console', '--board', BOARD, '--reports', reports]);
    await term.waitFor(/connected to qemu-x86-64-hands's console: Ctrl-\] q leaves/);
    expect(await lockIsFree(BOARD), 'the session holds the lock').to.equal(false);
    await term.waitFor(/login: $/m);
    let mark = term.screen().length;
    term.type('root\r');
    await term.waitFor(/Password: ?$/m, { from: mark });
    term.type('hwtest\r');
    await term.waitFor(PROMPT, { from: mark });
    mark = term.screen().length;
    term.type('echo hw-$((6*7))\r');
    await term.waitFor(/\nhw-42\r*\n/, { from: mark });
    // Ctrl-C goes to the board's shell (the terminal is raw), not to hw-test.
    mark = term.screen().length;
    term.type('sleep 120\r');
    await new Promise((r) => setTimeout(r, 1500));
    term.type('\x03');
    // Had hw-test taken it, the terminal would be gone; had the board not, the sleep would hold.
    term.type('echo after-$((1+1))\r');
    await term.waitFor(/\nafter-2\r*\n/, { from: mark, timeoutMs: 30_000 });

    // Another terminal: one command over SSH, with its exit code.
    const cmd = await cli(['ssh'], ['--', 'uname -n; exit 3']);
    expect(cmd.code, cmd.stderr).to.equal(3);
    expect(cmd.stdout).to.match(/^hwt-[0-9a-f]+\n$/);
    // A third terminal: an interactive shell over SSH.
    const shell = inPty(['ssh', '--board', BOARD, '--reports', reports]);
    await shell.waitFor(PROMPT);
    shell.type('echo ssh-$((7*6))\r');
    await shell.waitFor(/\nssh-42\r*\n/);
    shell.type('exit\r');
    const shellEnd = await shell.done;
    expect(shellEnd.code, shellEnd.screen).to.equal(0);

    // Power from another terminal goes through the session, which sees the board start again.
    mark = term.screen().length;
    const cycle = await cli(['power', 'cycle']);
    expect(cycle.code, cycle.stderr).to.equal(0);
    expect(cycle.stderr).to.match(/power cycle done in [\d.]+ s \(by its console session\): on/);
    await term.waitFor(/\[hw-test\] power cycle \(pid \d+ \(hw-test power cycle\)\)/, { from: mark });
    await term.waitFor(/hw-test: bootloader slot=A/, { from: mark });

    term.type('\x1dq');
    const end = await term.done;
    expect(end.code, end.screen.slice(-2000)).to.equal(0);
    expect(end.screen).to.match(/left the console; powered off and released; log: /);
    expect(poweredOff(boardDisk(BOARD)), 'no QEMU left').to.equal(true);
    expect(await lockIsFree(BOARD), 'the lock is released').to.equal(true);
    expect(existsSync(path.join(home, 'locks', `${BOARD}.sock`)), 'the control socket is gone').to.equal(
      false,
    );

    const [log] = logs(reports, BOARD, 'console');
    expect(log).to.match(/hw-test: console on qemu-x86-64-hands/);
    expect(log).to.match(/console: hw-42/);
    expect(log).to.match(/hw-test: SSH endpoint asked by pid \d+ \(hw-test ssh\)/);
    expect(log).to.match(/hw-test: power cycle done in [\d.]+ s: on/);
    expect(log).to.match(
      /hw-test: left the console\n.*hw-test: power off and release done[^]*hw-test: unlock done .*\n.*hw-test: qemu-x86-64-hands powered off and released\n$/,
    );
    expect(log).to.not.match(/PRIVATE KEY/);
    expect(logs(reports, BOARD, 'ssh').join('\n')).to.match(/stdout: hwt-[0-9a-f]+\n.*hw-test: exit 3/);
    expect(logs(reports, BOARD, 'power').join('\n')).to.match(/power cycle done .*by its console session/);
    // The session is over: the board is nobody's again.
    oneLine(await cli(['power', 'off']), 2, /runs only inside a console session/);
  });

  it('console: a terminal closed under it (SIGHUP) still powers the board off and releases it, logged', async function () {
    const before = logs(reports, BOARD, 'console').length;
    const term = inPty(['console', '--board', BOARD, '--reports', reports]);
    await term.waitFor(/connected to qemu-x86-64-hands's console/);
    expect(poweredOff(boardDisk(BOARD)), 'the session started the board').to.equal(false);
    // The terminal's window closes: its process dies, the pty hangs up, hw-test gets SIGHUP and EIO.
    term.kill('SIGKILL');
    await term.done;
    await until(() => poweredOff(boardDisk(BOARD)), 'QEMU stopped', 10_000);
    await until(
      () => /powered off and released\n$/.test(logs(reports, BOARD, 'console').at(-1) ?? ''),
      "the session's teardown logged",
      10_000,
    );
    expect(logs(reports, BOARD, 'console')).to.have.length(before + 1);
    expect(logs(reports, BOARD, 'console').at(-1)).to.match(
      /hw-test: interrupted\n.*hw-test: power off and release done[^]*hw-test: unlock done .*\n.*powered off and released\n$/,
    );
    expect(await lockIsFree(BOARD), 'the lock is released').to.equal(true);
  });
});

/**
 * A real board as a lab file wires it, without its hardware: the power is a command pair that
 * writes a state file, the UART a pty pair (socat) whose other end this test plays as the board.
 */
describe('hands-on: power and console on a real board (command power driver, pty UART)', function () {
  this.timeout(120_000);
  const home = mkdtempSync(path.join(os.tmpdir(), 'hwt-bench-'));
  const reports = path.join(home, 'reports');
  const state = path.join(home, 'power');
  const actions = path.join(home, 'actions');
  const lab = path.join(home, 'lab.yaml');
  const env = { HW_TEST_LOCK_DIR: path.join(home, 'locks') };
  let socat: ChildProcess;
  const cli = (args: string[], command: string[] = []) =>
    runCli([...args, '--board', 'bench-1', '--lab', lab, '--reports', reports, ...command], { env });

  before(async function () {
    socat = spawn('socat', [`pty,raw,echo=0,link=${home}/uart`, `pty,raw,echo=0,link=${home}/board`], {
      stdio: 'ignore',
    });
    await until(() => existsSync(`${home}/uart`) && existsSync(`${home}/board`), 'the pty pair');
    const sw = (s: string) => ['sh', '-c', `echo ${s} > ${state}; echo ${s} >> ${actions}`];
    writeFileSync(
      lab,
      JSON.stringify({
        boards: {
          'bench-1': {
            type: 'beaglebone-black',
            power: { driver: 'command', on: sw('on'), off: sw('off'), state: ['cat', state], offTimeMs: 100 },
            serial: { device: `${home}/uart`, baud: 115200 },
          },
        },
      }),
    );
    writeFileSync(state, 'off\n');
  });

  let term: PtyRun | undefined;
  after(async () => {
    // A failed test's terminal: closed, so that its session ends and mocha exits.
    term?.kill('SIGKILL');
    await term?.done;
    socat?.kill();
  });

  it('power on, cycle, off through the driver, each under the lock and logged; the board stays as left', async function () {
    const on = await cli(['power', 'on']);
    expect(on.code, on.stderr).to.equal(0);
    expect(on.stderr).to.match(/bench-1: power on done in [\d.]+ s \(under its lock\): on; log: /);
    expect(readFileSync(state, 'utf8').trim()).to.equal('on');
    writeFileSync(actions, '');
    expect((await cli(['power', 'cycle'])).code).to.equal(0);
    expect(readFileSync(actions, 'utf8')).to.equal('off\non\n');
    expect((await cli(['power', 'off'])).code).to.equal(0);
    expect(readFileSync(state, 'utf8').trim()).to.equal('off');
    expect(await lockIsFree('bench-1')).to.equal(true);
    expect(logs(reports, 'bench-1', 'power')).to.have.length(3);
    expect(logs(reports, 'bench-1', 'power').join('')).to.match(/power cycle done .*under its lock\): on/);
    oneLine(
      await cli(['ssh'], ['--', 'true']),
      2,
      /bench-1: no console session flashed it: give --host ADDRESS/,
    );
  });

  it('console attaches to the UART as it is: keys (Ctrl-C, Ctrl-] Ctrl-]) reach the board, power goes through the session, Ctrl-] q leaves', async function () {
    const board = createWriteStream(`${home}/board`);
    const fromTerminal: Buffer[] = [];
    const reader = createReadStream(`${home}/board`);
    reader.on('data', (b) => fromTerminal.push(Buffer.from(b)));
    // The pty pair goes when socat does.
    reader.on('error', () => {});
    board.on('error', () => {});
    term = cliInPty(['console', '--board', 'bench-1', '--lab', lab, '--reports', reports], { env });
    await term.waitFor(/connected to bench-1's console/, { timeoutMs: 30_000 });
    board.write('U-Boot 2024.01\r\nbench-1 login: ');
    await term.waitFor(/bench-1 login: $/, { timeoutMs: 30_000 });
    term.type('root\r\x03\x1d\x1d');
    await until(
      () => Buffer.concat(fromTerminal).includes(Buffer.from('root\r\x03\x1d')),
      'the keys on the UART',
    );
    // From another terminal, while the session holds the board: the session switches it.
    const on = await cli(['power', 'on']);
    expect(on.stderr).to.match(/power on done in [\d.]+ s \(by its console session\): on/);
    expect(readFileSync(state, 'utf8').trim()).to.equal('on');
    const mark = term.screen().length;
    term.type('\x1d?');
    await term.waitFor(/Ctrl-\] c power-cycles the board/, { from: mark });
    term.type('\x1dq');
    const end = await term.done;
    expect(end.code, end.screen).to.equal(0);
    expect(end.screen).to.match(/bench-1: left the console; released; log: /);
    expect(readFileSync(state, 'utf8').trim(), 'the power is as the person left it').to.equal('on');
    expect(await lockIsFree('bench-1')).to.equal(true);
    expect(logs(reports, 'bench-1', 'console').join('')).to.match(
      /console: U-Boot 2024\.01\n.*power on \(pid/s,
    );
    reader.destroy();
    board.destroy();
  });
});
