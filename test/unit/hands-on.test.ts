import { expect } from 'chai';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../rig/errors.js';
import { askControl, serveControl, type ControlHandlers } from '../../rig/hands-on/control.js';
import { ESCAPE, EscapeReader } from '../../rig/hands-on/escape.js';
import { HandsOnLog } from '../../rig/hands-on/log.js';
import { registerSecret } from '../../rig/log.js';
import { runCli } from '../helpers/cli.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const text = (items: (Buffer | string)[]) =>
  items.map((i) => (Buffer.isBuffer(i) ? i.toString('latin1') : `<${i}>`)).join('');

describe('hands-on: the console escape, the log, the control socket', () => {
  it('hw-test --help lists console, power and ssh; their --help comes from their option tables', async function () {
    this.timeout(20_000);
    const top = await runCli(['--help']);
    for (const c of ['console', 'power', 'ssh']) expect(top.stdout).to.match(new RegExp(`^  ${c} +\\S`, 'm'));
    const help = await runCli(['console', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^ {2}--image PATH\|URL +flash this image/m);
    expect(help.stdout).to.match(/^ {2}--lock-timeout S +/m);
    expect(help.stdout).to.include('Ctrl-] q leaves');
    // After --, --help is the board's command's own.
    const ssh = await runCli(['ssh', '--board', 'nope', '--', 'ls', '--help']);
    expect(ssh.code).to.equal(2);
    expect(ssh.stderr).to.match(/^hw-test: unknown board "nope"/);
  });

  it('splits keys into bytes for the board and escape commands, across chunks; Ctrl-C and unknown keys go to the board', () => {
    const r = new EscapeReader();
    expect(text(r.push(b('ls\r\x03')))).to.equal('ls\r\x03');
    expect(text(r.push(b('a\x1dq')))).to.equal('a<quit>');
    // Ctrl-] at the end of one chunk, its key at the start of the next.
    expect(text(r.push(b('x\x1d')))).to.equal('x');
    expect(text(r.push(b('cy')))).to.equal('<cycle>y');
    expect(text(r.push(b('\x1d\x1d\x1d?\x1d.')))).to.equal('\x1d<help><quit>');
    expect(text(r.push(b('\x1dz')))).to.equal(`${String.fromCharCode(ESCAPE)}z`);
  });

  it('logs lines with their time, the unfinished one at the end, escapes removed and secrets masked', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'hwt-hands-log-')), 'x', 'console.log');
    const log = new HandsOnLog(file);
    registerSecret('s3cret-passphrase');
    log.output(b('\x1b[1mU-Boot\x1b[0m 2024\r\nWPA psk=s3cret-'));
    log.output(b('passphrase\r\nlogin: '));
    log.event('left the console');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.map((l) => l.replace(/^\S+Z /, ''))).to.deep.equal([
      'console: U-Boot 2024',
      'console: WPA psk=********',
      'console: login: ',
      'hw-test: left the console',
    ]);
    expect(lines[0]).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z /);
  });

  it('answers power and ssh requests over a 0600 socket, errors with their class; no session is undefined', async () => {
    const env = { HW_TEST_LOCK_DIR: mkdtempSync(path.join(os.tmpdir(), 'hwt-hands-ctl-')) };
    const asked: string[] = [];
    const handlers: ControlHandlers = {
      power: (action, from) => {
        asked.push(`${action} ${from}`);
        return Promise.resolve({ state: 'on', ms: 1 });
      },
      ssh: () =>
        Promise.reject(new InputError('bench-9 is powered off: hw-test power on --board bench-9 first')),
      info: () => ({ board: 'bench-9', pid: process.pid, log: '/x.log' }),
    };
    expect(await askControl('bench-9', { op: 'info' }, { env, timeoutMs: 2000 })).to.equal(undefined);
    const server = await serveControl('bench-9', handlers, env);
    try {
      expect(statSync(server.path).mode & 0o777).to.equal(0o600);
      const r = await askControl(
        'bench-9',
        { op: 'power', action: 'cycle', from: 'pid 1' },
        { env, timeoutMs: 2000 },
      );
      expect(r).to.deep.equal({ state: 'on', ms: 1 });
      expect(asked).to.deep.equal(['cycle pid 1']);
      const err = await askControl('bench-9', { op: 'ssh', from: 'pid 2' }, { env, timeoutMs: 2000 }).catch(
        (e: unknown) => e,
      );
      expect(err).to.have.property('class', 'input');
      expect((err as Error).message).to.match(/powered off/);
    } finally {
      await server.close();
    }
    expect(await askControl('bench-9', { op: 'info' }, { env, timeoutMs: 2000 })).to.equal(undefined);
  });
});
