import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DEFAULT_FAILURE_PATTERNS, failurePatterns, loadBoard } from '../../rig/catalog/board.js';
import { loadOsProfile } from '../../rig/catalog/os-profile.js';
import type { FailurePattern } from '../../rig/console/console.js';
import { StreamConsole } from '../../rig/console/stream-console.js';
import { HwTestError, InterruptedError, TimeoutError } from '../../rig/errors.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/console');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));

/** The reference OS profile's login prompt (os/profiles/reference.yaml). */
const LOGIN = /login:\s*$/;

function consoleOn(failurePatterns: FailurePattern[] = DEFAULT_FAILURE_PATTERNS) {
  const input = new PassThrough();
  const output = new PassThrough();
  const con = new StreamConsole({ name: 'dut', input, output, failurePatterns });
  return { input, output, con };
}

/** A deterministic PRNG, so a failing split can be replayed. */
function prng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

function chunks(data: Buffer, size: number | 'random', seed = 1): Buffer[] {
  const out: Buffer[] = [];
  const rnd = prng(seed);
  for (let i = 0; i < data.length;) {
    const n = size === 'random' ? 1 + Math.floor(rnd() * 97) : size;
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Sends the chunks one event-loop turn apart, as a UART would. */
async function play(input: PassThrough, parts: Buffer[]): Promise<void> {
  for (const p of parts) {
    input.write(p);
    await new Promise((r) => setImmediate(r));
  }
}

async function rejection(p: Promise<unknown>): Promise<HwTestError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(HwTestError);
    return err as HwTestError;
  }
  throw new Error('expected a rejection');
}

describe('StreamConsole on recorded boots', () => {
  for (const split of [1, 3, 17, 4096, 'random'] as const) {
    it(`follows GRUB, kernel and login prompt, split into ${split}-byte chunks`, async () => {
      const { input, con } = consoleOn();
      await con.open();
      const waits = (async () => {
        const boot = await con.expect(/hw-test: bootloader slot=(\w)/, { timeoutMs: 5000 });
        const kernel = await con.expect(/Linux version \S+/, { timeoutMs: 5000 });
        const user = await con.expect(/hw-test: userspace up version=(\S+)/, { timeoutMs: 5000 });
        const login = await con.expect(LOGIN, { timeoutMs: 5000, what: 'the login prompt' });
        return { boot, kernel, user, login };
      })();
      await play(input, chunks(fixture('grub-kernel-login-x86_64.raw'), split));
      const { boot, kernel, user, login } = await waits;
      expect(boot.match[1]).to.equal('A');
      expect(kernel.match[0]).to.equal('Linux version 6.1.0-50-amd64');
      expect(user.match[1]).to.equal('v1');
      expect(login.line).to.equal('hwtest login: ');
      expect(boot.t).to.be.at.most(login.t);
      expect(con.findings).to.deep.equal([]);
    });
  }

  it('follows the reference OS boot with the board type markers and the OS profile prompt', async () => {
    const board = loadBoard('qemu-x86-64');
    const profile = loadOsProfile();
    const { input, con } = consoleOn(failurePatterns(board));
    await con.open();
    const waits = (async () => {
      const seen: string[] = [];
      for (const marker of [
        board.markers.bootloader,
        board.markers.kernel,
        board.markers.userspace,
        profile.console.loginPrompt,
      ]) {
        seen.push((await con.expect(new RegExp(marker), { timeoutMs: 5000 })).line);
      }
      return seen;
    })();
    await play(input, chunks(fixture('reference-os-v1-x86_64.raw'), 'random', 5));
    const [boot, kernel, user, login] = await waits;
    // The marker matched inside a line still arriving: `line` is that line so far.
    expect('hw-test: bootloader slot=A bootcount=0 upgrade_available=0').to.include(boot);
    expect(con.lines.map((l) => l.text)).to.include(
      'hw-test: bootloader slot=A bootcount=0 upgrade_available=0',
    );
    expect(kernel).to.match(/^\[ {4}0\.000000\] Linux version 6\.1\.0-50-amd64 /);
    expect(user).to.equal('hw-test: userspace up version=v1 slot=A');
    expect(login).to.equal('hwtest login: ');
  });

  it('strips ANSI escapes and \\r from the line log, keeps the raw bytes', async () => {
    const { input, con } = consoleOn();
    await con.open();
    const raw = fixture('grub-kernel-login-x86_64.raw');
    await play(input, chunks(raw, 'random', 7));
    expect(con.raw.equals(raw)).to.equal(true);
    expect(con.bytesReceived).to.equal(raw.length);
    const texts = con.lines.map((l) => l.text);
    expect(texts.some((t) => t.includes('\x1b') || t.includes('\r'))).to.equal(false);
    expect(texts).to.include('                             GNU GRUB  version 2.06-13+deb12u1');
    expect(con.partialLine).to.equal('hwtest login: ');
    expect(con.lastLines(2)).to.deep.equal(['', 'hwtest login: ']);
  });

  it('keeps escapes and UTF-8 characters whole when a chunk cuts them', async () => {
    const { input, con } = consoleOn();
    await con.open();
    await play(input, [
      Buffer.from('\x1b['),
      Buffer.from('1;32mgr'),
      Buffer.from([0xc3]),
      Buffer.from([0xbc, 0x6e, 0x1b]),
      Buffer.from('[0m\r\n'),
    ]);
    expect(con.lines.map((l) => l.text)).to.deep.equal(['grün']);
  });

  it('matches a U-Boot prompt that has no newline', async () => {
    const { input, con } = consoleOn();
    await con.open();
    const wait = (async () => {
      const banner = await con.expect(/U-Boot (\d{4}\.\d{2})/, { timeoutMs: 5000 });
      await con.expect('Hit any key to stop autoboot', { timeoutMs: 5000 });
      const prompt = await con.expect(/=> $/, { timeoutMs: 5000 });
      return { banner, prompt };
    })();
    await play(input, chunks(fixture('uboot-armv7.raw'), 5));
    const { banner, prompt } = await wait;
    expect(banner.match[1]).to.equal('2023.01');
    expect(prompt.line).to.equal('=> ');
  });

  it('finds a login prompt split and followed by kernel messages', async () => {
    const { input, con } = consoleOn();
    await con.open();
    await play(input, chunks(fixture('prompt-interleaved-x86_64.raw'), 'random', 3));
    // The fixture really is interleaved: no line holds the whole prompt.
    expect(con.lines.map((l) => l.text).some((t) => t.includes('login:'))).to.equal(false);
    const m = await con.expect(LOGIN, { timeoutMs: 1000 });
    expect(m.match[0]).to.match(/^login:/);
    // The prompt was consumed: a second wait for it needs a new prompt.
    await rejection(con.expect(LOGIN, { timeoutMs: 20 }));
    input.write('\r\nhwtest login: ');
    await con.expect(LOGIN, { timeoutMs: 1000 });
  });
});

describe('StreamConsole cursor', () => {
  it('never matches again what an earlier expect consumed', async () => {
    const { input, con } = consoleOn();
    await con.open();
    await play(input, [fixture('grub-kernel-login-x86_64.raw')]);
    await con.expect(/Linux version/, { timeoutMs: 1000 });
    const err = await rejection(con.expect(/GNU GRUB/, { timeoutMs: 20 }));
    expect(err).to.be.instanceOf(TimeoutError);
    // Text after the cursor is still there.
    await con.expect(/Run \/init as init process/, { timeoutMs: 1000 });
  });

  it('skipPending makes the next expect see only new output', async () => {
    const { input, con } = consoleOn();
    await con.open();
    await play(input, [fixture('grub-kernel-login-x86_64.raw')]);
    con.skipPending();
    await rejection(con.expect(LOGIN, { timeoutMs: 20 }));
    await play(input, [Buffer.from('\r\nhwtest login: ')]);
    const m = await con.expect(LOGIN, { timeoutMs: 1000 });
    expect(m.line).to.equal('hwtest login: ');
  });

  it('matches across line boundaries', async () => {
    const { input, con } = consoleOn();
    await con.open();
    await play(input, [Buffer.from('Password: \r\n'), Buffer.from('\r\nLogin incorrect\r\n')]);
    const m = await con.expect(/Password:\s+Login incorrect/, { timeoutMs: 1000 });
    expect(m.line).to.equal('Login incorrect');
  });
});

describe('StreamConsole failure patterns', () => {
  it('rejects at once on a kernel panic, quoting the line', async () => {
    const { input, con } = consoleOn();
    await con.open();
    const wait = rejection(con.expect(LOGIN, { timeoutMs: 60000 }));
    await play(input, chunks(fixture('kernel-panic-x86_64.raw'), 'random', 11));
    const err = await wait;
    expect(err.class).to.equal('fail');
    expect(err.message).to.include(
      'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
    );
    expect(err.context.actual).to.match(/^\[\s*\d+\.\d+\] Kernel panic - not syncing/);
    expect(err.context.seen).to.be.an('array').that.is.not.empty;
  });

  it('does not fail a wait for what came before the panic', async () => {
    const { input, con } = consoleOn();
    await con.open();
    await play(input, [fixture('kernel-panic-x86_64.raw')]);
    const m = await con.expect(/Linux version \S+/, { timeoutMs: 1000 });
    expect(m.match[0]).to.equal('Linux version 6.1.0-50-amd64');
    // ... but the next wait, whose pending text holds the panic, fails.
    expect((await rejection(con.expect(LOGIN, { timeoutMs: 1000 }))).class).to.equal('fail');
  });

  it('without failure patterns the same panic is only a timeout', async () => {
    const { input, con } = consoleOn([]);
    await con.open();
    await play(input, [fixture('kernel-panic-x86_64.raw')]);
    const err = await rejection(con.expect(LOGIN, { timeoutMs: 20 }));
    expect(err).to.be.instanceOf(TimeoutError);
  });

  it('applies a per-wait fatal pattern', async () => {
    const { input, con } = consoleOn([]);
    await con.open();
    await play(input, [fixture('uboot-armv7.raw')]);
    const failOn: FailurePattern[] = [
      { name: 'no-kernel', pattern: /fatal: no kernel available/, severity: 'fatal' },
    ];
    const err = await rejection(con.expect(/Starting kernel/, { timeoutMs: 1000, failOn }));
    expect(err.class).to.equal('fail');
    expect(err.message).to.include('no-kernel: "fatal: no kernel available"');
  });

  it('records Oops/BUG/WARNING lines in findings without stopping the wait', async () => {
    const { input, con } = consoleOn();
    await con.open();
    const wait = con.expect(LOGIN, { timeoutMs: 5000 });
    const boot = fixture('grub-kernel-login-x86_64.raw');
    const at = boot.indexOf('Run /init');
    const warning =
      '[    1.900000] WARNING: CPU: 0 PID: 1 at drivers/base/dd.c:123 really_probe+0x3d/0x3e0\r\n';
    await play(
      input,
      chunks(Buffer.concat([boot.subarray(0, at), Buffer.from(warning), boot.subarray(at)]), 64),
    );
    await wait;
    expect(con.findings).to.have.length(1);
    expect(con.findings[0].pattern).to.equal('warning');
    expect(con.findings[0].severity).to.equal('record');
    expect(con.findings[0].line.text).to.include('WARNING: CPU: 0 PID: 1');
  });

  it('records a per-wait record pattern', async () => {
    const { input, con } = consoleOn([]);
    await con.open();
    const failOn: FailurePattern[] = [{ name: 'bad-crc', pattern: /bad CRC/, severity: 'record' }];
    const wait = con.expect(/=> $/, { timeoutMs: 5000, failOn });
    await play(input, chunks(fixture('uboot-armv7.raw'), 9));
    await wait;
    expect(con.findings.map((f) => f.pattern)).to.deep.equal(['bad-crc']);
  });
});

describe('StreamConsole timeouts and abort', () => {
  it('a silent board times out as fail, saying nothing was received', async () => {
    const { input, con } = consoleOn();
    await con.open();
    await play(input, [fixture('silent-board.raw')]);
    const err = await rejection(con.expect(/U-Boot/, { timeoutMs: 20, what: 'the bootloader' }));
    expect(err).to.be.instanceOf(TimeoutError);
    expect(err.class).to.equal('fail');
    expect(err.message).to.equal('dut: no the bootloader within 0.02s (the console received nothing at all)');
    expect(con.bytesReceived).to.equal(0);
  });

  it('a timeout carries the last 50 lines and the chosen class', async () => {
    const { input, con } = consoleOn([]);
    await con.open();
    await play(input, [fixture('kernel-panic-x86_64.raw')]);
    const err = await rejection(con.expect(/never printed/, { timeoutMs: 20, errorClass: 'infra' }));
    expect(err.class).to.equal('infra');
    const seen = err.context.seen as string[];
    expect(seen).to.have.length(50);
    expect(seen.at(-1)).to.match(/Kernel Offset: 0x[0-9a-f]+ from/);
    expect(seen).to.deep.equal(con.lastLines(50));
  });

  it('an abort rejects the wait as interrupted', async () => {
    const { con } = consoleOn();
    await con.open();
    const ctl = new AbortController();
    const wait = rejection(con.expect(/U-Boot/, { timeoutMs: 60000, signal: ctl.signal }));
    ctl.abort('SIGINT');
    const err = await wait;
    expect(err).to.be.instanceOf(InterruptedError);
    expect(err.message).to.include('SIGINT');
  });

  it('the end of the stream fails pending and later waits as infra', async () => {
    const { input, con } = consoleOn();
    await con.open();
    const wait = rejection(con.expect(/U-Boot/, { timeoutMs: 60000 }));
    input.end();
    expect((await wait).class).to.equal('infra');
    expect((await rejection(con.expect(/x/, { timeoutMs: 60000 }))).class).to.equal('infra');
  });
});

describe('StreamConsole log', () => {
  it('writes serial.log with one timestamped line per console line', async () => {
    const { input, con } = consoleOn();
    await con.open();
    await play(input, [fixture('uboot-armv7.raw')]);
    const dir = mkdtempSync(path.join(tmpdir(), 'hwt-console-'));
    try {
      await con.saveLog(path.join(dir, 'serial.log'));
      await con.saveRawLog(path.join(dir, 'serial.raw'));
      const log = readFileSync(path.join(dir, 'serial.log'), 'utf8').split('\n').slice(0, -1);
      expect(log).to.have.length(con.lines.length + 1);
      for (const l of log) expect(l).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z +\d+\.\d{3} /);
      expect(log.at(-1)).to.match(/ => $/);
      expect(readFileSync(path.join(dir, 'serial.raw')).equals(fixture('uboot-armv7.raw'))).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the lines between two times, for a per-test attachment', async () => {
    const { input, con } = consoleOn();
    await con.open();
    await play(input, [Buffer.from('before\n')]);
    await new Promise((r) => setTimeout(r, 5));
    const from = con.now();
    await play(input, [Buffer.from('during 1\nduring 2\n')]);
    await new Promise((r) => setTimeout(r, 5));
    const to = con.now();
    await play(input, [Buffer.from('after\n')]);
    expect(con.linesBetween(from, to).map((l) => l.text)).to.deep.equal(['during 1', 'during 2']);
    expect(con.linesBetween(0).map((l) => l.text)).to.deep.equal(['before', 'during 1', 'during 2', 'after']);
  });

  it('writes to the board', async () => {
    const { output, con } = consoleOn();
    await con.open();
    await con.write('root\n');
    expect(String(output.read())).to.equal('root\n');
  });
});
