import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheRoot } from '../../rig/image/build.js';
import { startCli, until } from '../helpers/faults.js';

const BOARD = 'stuck-teardown-1';

/**
 * The first SIGTERM ends the process within its teardown deadline whatever the teardown is stuck
 * in: a lab board whose power switch (the command driver: a PDU's CLI) never returns from "off".
 * The run is stopped while its flash waits on that command; the teardown's power-off then hangs
 * too (its own timeout is 30 s), and the process exits 130 at the 9 s deadline, saying so.
 */
describe('a stuck teardown: the first SIGTERM still ends the run within its deadline (exit 130)', function () {
  this.timeout(5 * 60_000);
  let dir: string;
  let pty: ChildProcess | undefined;

  before(function () {
    if (spawnSync('sh', ['-c', 'command -v socat']).status !== 0) this.skip();
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-stuck-'));
    // The board's serial console: one end of a pty pair nobody writes to (the board never boots).
    pty = spawn('socat', [`pty,raw,echo=0,link=${dir}/tty`, `pty,raw,echo=0,link=${dir}/tty-board`], {
      stdio: 'ignore',
    });
    writeFileSync(path.join(dir, 'card.img'), '');
    truncateSync(path.join(dir, 'card.img'), 1 << 30);
    // `off` records its pid and never returns, as a PDU that stopped answering.
    const off = `echo $$ >> ${dir}/pids; exec sleep 600`;
    writeFileSync(
      path.join(dir, 'lab.yaml'),
      `description: a board whose power switch hangs on off
boards:
  ${BOARD}:
    type: qemu-x86-64
    power: { driver: command, on: [/bin/true], off: [/bin/sh, -c, '${off}'] }
    mux: { driver: gpio-mux, gpio: sim, chip: sim-gpiochip9, select: 3, device: ${dir}/card.img }
    serial: { device: ${dir}/tty }
`,
    );
  });

  after(function () {
    // The process is gone, its stuck power command is not: ours to end.
    for (const pid of pids()) {
      try {
        process.kill(pid);
      } catch {
        // already gone
      }
    }
    pty?.kill();
    // The run never reached its own teardown: its work copy is left behind.
    const runs = existsSync(path.join(dir, 'reports', BOARD))
      ? readdirSync(path.join(dir, 'reports', BOARD))
      : [];
    for (const r of runs)
      rmSync(path.join(cacheRoot(process.env), 'work', r), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const pids = () =>
    existsSync(path.join(dir, 'pids'))
      ? readFileSync(path.join(dir, 'pids'), 'utf8').split('\n').filter(Boolean).map(Number)
      : [];

  it('exits 130 at the deadline, names it, and does not retry the interrupted flash', async function () {
    await until(() => existsSync(path.join(dir, 'tty')), 'the pty');
    const run = startCli(
      [
        '--board',
        BOARD,
        '--lab',
        path.join(dir, 'lab.yaml'),
        '--suite',
        'boot',
        '--reports',
        path.join(dir, 'reports'),
      ],
      { HW_TEST_HEALTH: path.join(dir, 'health.json') },
    );
    // The flash powers the board off first: that command hangs.
    await until(() => pids().length === 1, 'the flash stuck in power off', 120_000);
    const t0 = Date.now();
    run.kill('SIGTERM');
    const end = await run.done;
    const seconds = (Date.now() - t0) / 1000;
    const out = `${end.stdout}\n${end.stderr}`;
    expect(end.code, out).to.equal(130);
    expect(end.stderr).to.match(
      /hw-test: the teardown did not end within 9 s of SIGTERM: exiting \(130\); check that the board is powered off/,
    );
    // The teardown really was stuck: its power-off started and never came back.
    expect(pids(), out).to.have.length(2);
    expect(out).to.match(new RegExp(`${BOARD}: power off and release\\.\\.\\.`));
    // The first off command was killed by the interruption: not a power fault, not retried.
    expect(out).to.not.match(/retrying|off command failed/);
    // Not the power command's 30 s timeout, nor its 600 s hang: the 9 s deadline (slack for a loaded host).
    expect(seconds, out).to.be.below(25);
  });
});
