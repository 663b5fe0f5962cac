import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SerialConsole } from '../../rig/console/serial.js';
import { HwTestError, InfraError } from '../../rig/errors.js';

const BOARD = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/fixtures/console/pty-board.py',
);
const havePython = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;

/** A board on a real pty pair (python3's pty.openpty), reached through a by-id style symlink. */
class PtyBoard {
  readonly received: Buffer[] = [];
  #proc: ChildProcessWithoutNullStreams;
  #acks: (() => void)[] = [];
  readonly ready: Promise<string>;
  readonly gone: Promise<void>;

  constructor(link: string) {
    this.#proc = spawn('python3', [BOARD, link]);
    const lines = createInterface({ input: this.#proc.stdout });
    let onReady: (slave: string) => void = () => {};
    this.ready = new Promise((r) => (onReady = r));
    lines.on('line', (line) => {
      const [what, arg] = line.split(' ');
      if (what === 'ready') onReady(arg);
      else if (what === 'got') this.received.push(Buffer.from(arg, 'hex'));
      else if (what === 'sent') this.#acks.shift()?.();
    });
    this.gone = new Promise((r) => this.#proc.once('exit', () => r()));
  }

  /** The board prints; resolves once the bytes are in the pty. */
  print(text: string): Promise<void> {
    return new Promise((resolve) => {
      this.#acks.push(resolve);
      this.#proc.stdin.write(`${Buffer.from(text).toString('hex')}\n`);
    });
  }

  /** The device vanishes: symlink removed, pty closed. */
  async unplug(): Promise<void> {
    this.#proc.stdin.end();
    await this.gone;
  }

  kill(): void {
    this.#proc.kill('SIGKILL');
  }
}

/** Polls a condition (at most 5 s): for state that changes without an event to wait on. */
async function until(cond: () => boolean): Promise<void> {
  for (const end = Date.now() + 5000; !cond();) {
    if (Date.now() > end) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SerialConsole on a real pty', function () {
  let dir: string;
  let link: string;
  const boards: PtyBoard[] = [];
  const consoles: SerialConsole[] = [];

  before(function () {
    if (!havePython) this.skip(); // python3 with the pty module makes the pty pair
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hwt-serial-'));
    link = path.join(dir, 'usb-FTDI_FT232R_USB_UART_A10K5TQ1-if00-port0');
  });
  afterEach(async () => {
    for (const c of consoles.splice(0)) await c.close();
    for (const b of boards.splice(0)) b.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  async function board(): Promise<PtyBoard> {
    const b = new PtyBoard(link);
    boards.push(b);
    await b.ready;
    return b;
  }

  function serial(opts: Partial<ConstructorParameters<typeof SerialConsole>[0]> = {}): SerialConsole {
    const c = new SerialConsole({
      name: 'b1 console',
      path: link,
      baudRate: 115200,
      pollMs: 20,
      reopenTimeoutMs: 5000,
      ...opts,
    });
    consoles.push(c);
    return c;
  }

  it('reads what the board prints and writes to it', async () => {
    const b = await board();
    const con = serial();
    await con.open();
    expect(con.device).to.equal(link);
    const wait = con.expect(/hwtest login: $/, { timeoutMs: 5000 });
    await b.print('\r\nhwtest login: ');
    expect((await wait).line).to.equal('hwtest login: ');
    await con.write('root\n');
    await until(() => Buffer.concat(b.received).toString() === 'root\n');
    expect(con.bytesReceived).to.equal(16);
  });

  it('reopens a device that vanished and came back, losing nothing from the log', async () => {
    const first = await board();
    let reopened: (device: string) => void = () => {};
    const back = new Promise<string>((r) => (reopened = r));
    const con = serial({ onReopen: (d) => reopened(d) });
    await con.open();
    await first.print('U-Boot 2023.01\r\nbefore unplug\r\nlast words');
    await con.expect(/last words$/, { timeoutMs: 5000 });
    // A wait survives the absence of the device.
    const wait = con.expect(/hwtest login: $/, { timeoutMs: 10000 });
    await first.unplug();
    expect(existsSync(link)).to.equal(false);
    const second = await board();
    expect(await back).to.equal(link);
    await second.print(' after replug\r\nhwtest login: ');
    await wait;
    expect(con.reopens).to.equal(1);
    // The unfinished line before the unplug goes on after it: the log is one stream.
    expect(con.lines.map((l) => l.text)).to.deep.equal([
      'U-Boot 2023.01',
      'before unplug',
      'last words after replug',
    ]);
    expect(con.raw.toString()).to.equal(
      'U-Boot 2023.01\r\nbefore unplug\r\nlast words after replug\r\nhwtest login: ',
    );
    await con.write('root\n');
  });

  it('notices a device node that went away even while reads do not fail', async () => {
    const b = await board();
    const slave = await b.ready;
    let reopened: (device: string) => void = () => {};
    const back = new Promise<string>((r) => (reopened = r));
    const con = serial({ onReopen: (d) => reopened(d) });
    await con.open();
    // The pty itself stays: only the by-id link goes, as udev removes it on an unplug.
    rmSync(link);
    await until(() => !con.isOpen);
    symlinkSync(slave, link);
    expect(await back).to.equal(link);
    await b.print('still here\r\n');
    await con.expect(/still here\n/, { timeoutMs: 5000 });
  });

  it('fails waits as infra, naming the device, when it never comes back', async () => {
    const b = await board();
    const con = serial({ reopenTimeoutMs: 300 });
    await con.open();
    const wait = con.expect(/login:/, { timeoutMs: 60000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await b.unplug();
    const err = (await wait) as HwTestError;
    expect(err).to.be.instanceOf(InfraError);
    expect(err.message).to.equal(
      `b1 console: serial device ${link} vanished and did not come back within 0.3s`,
    );
    expect(err.context.device).to.equal(link);
    const later = (await con.expect(/x/, { timeoutMs: 60000 }).catch((e: unknown) => e)) as HwTestError;
    expect(later.class).to.equal('infra');
    const write = (await con.write('x').catch((e: unknown) => e)) as HwTestError;
    expect(write.class).to.equal('infra');
  });

  it('resolves a path function at each open (a QEMU pty changes at each start)', async () => {
    const b = await board();
    let asked = 0;
    const con = serial({
      path: () => {
        asked++;
        return link;
      },
    });
    await con.open();
    await b.print('one\r\n');
    await con.expect(/one\n/, { timeoutMs: 5000 });
    await con.close();
    await con.open();
    await b.print('two\r\n');
    await con.expect(/two\n/, { timeoutMs: 5000 });
    expect(asked).to.equal(2);
    expect(con.lines.map((l) => l.text)).to.deep.equal(['one', 'two']);
  });

  it('a closed console does not chase its device', async () => {
    const b = await board();
    const con = serial({ reopenTimeoutMs: 100 });
    await con.open();
    await con.close();
    await con.close();
    await b.unplug();
    await b.gone;
    await board();
    expect(con.isOpen).to.equal(false);
    expect(con.reopens).to.equal(0);
  });

  it('refuses a missing device with an infra error naming it', async () => {
    const con = serial({ path: path.join(dir, 'usb-missing') });
    const err = (await con.open().catch((e: unknown) => e)) as HwTestError;
    expect(err).to.be.instanceOf(InfraError);
    expect(err.message).to.match(/^b1 console: cannot open serial device .*usb-missing: /);
  });
});
