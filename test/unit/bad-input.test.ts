import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { handleSignals, type SignalHost } from '../../rig/cli/signals.js';
import { mkdirs } from '../../rig/util/mkdirs.js';
import { lockBoard } from '../../rig/runner/lock.js';
import { CLI, ROOT, runCli } from '../helpers/cli.js';

/** Each row: exit 2, one line naming the file or option, no stack trace, no report, no board. */
describe('bad input: one line, exit 2, nothing written, never a hang', function () {
  this.timeout(30_000);
  let dir: string;
  let reports: string;
  let env: NodeJS.ProcessEnv;

  before(function () {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-badin-'));
    mkdirSync(path.join(dir, 'adir'));
    writeFileSync(path.join(dir, 'afile'), 'x');
    env = { HW_TEST_HEALTH: path.join(dir, 'health.json') };
  });
  // A report folder of its own per test: one that a run wrote is found by that test alone.
  beforeEach(function () {
    reports = path.join(dir, `reports-${Math.random().toString(16).slice(2)}`);
  });

  async function refused(args: string[], line: RegExp, extraEnv: NodeJS.ProcessEnv = {}): Promise<void> {
    const t0 = Date.now();
    const r = await runCli(args, { env: { ...env, ...extraEnv } });
    const err = r.stderr.trim();
    expect(r.code, `${err}\n${r.stdout}`).to.equal(2);
    expect(err.split('\n'), err).to.have.length(1);
    expect(err).to.match(line);
    expect(err).to.not.match(/internal error|\n\s+at /);
    expect(existsSync(reports), 'a report folder was written').to.equal(false);
    expect(Date.now() - t0).to.be.below(10_000);
  }

  it('an image that is a directory (flash and run)', async function () {
    await refused(
      ['flash', '--image', path.join(dir, 'adir'), '--to', path.join(dir, 'x.img')],
      /adir: is a directory, not a file$/,
    );
    await refused(
      ['--board', 'qemu-x86-64', '--image', path.join(dir, 'adir'), '--reports', reports],
      /^hw-test: --image .*adir: is a directory, not a file$/,
    );
  });

  it('an SSH key, a PSK file or an image-configure target that is a directory', async function () {
    await refused(
      ['image', 'configure', '--hostname', 'a', path.join(dir, 'adir')],
      /adir: is a directory, not a file$/,
    );
    await refused(
      ['image', 'configure', '--ssh-key', path.join(dir, 'adir'), path.join(dir, 'afile')],
      /--ssh-key .*adir: is a directory, not a file$/,
    );
    await refused(
      [
        'image',
        'configure',
        '--wifi-ssid',
        's',
        '--wifi-psk-file',
        path.join(dir, 'adir'),
        path.join(dir, 'afile'),
      ],
      /--wifi-psk-file .*adir: is a directory, not a file$/,
    );
  });

  it('a named pipe where a file is expected is refused, not read for ever', async function () {
    const fifo = path.join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    await refused(
      ['--board', 'qemu-x86-64', '--os', fifo, '--reports', reports],
      /fifo: OS profile file: is a named pipe, not a file$/,
    );
    await refused(
      ['--board', 'qemu-x86-64', '--reports', reports],
      /^hw-test: HW_TEST_SSH_KEY .*fifo: is a named pipe, not a file$/,
      {
        HW_TEST_SSH_KEY: fifo,
      },
    );
  });

  it('a YAML alias bomb in a lab file: refused at once', async function () {
    const bomb = path.join(dir, 'bomb.yaml');
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(', ')}]`,
      );
    }
    writeFileSync(bomb, `${levels.join('\n')}\nboards: *h\n`);
    await refused(
      ['--board', 'x', '--lab', bomb, '--reports', reports],
      /bomb\.yaml: invalid YAML: too many aliases \(an alias bomb\?\)$/,
    );
  });

  it('a missing HW_TEST_BOARDS_DIR', async function () {
    await refused(['boards'], /^hw-test: HW_TEST_BOARDS_DIR .*nowhere: no such folder/, {
      HW_TEST_BOARDS_DIR: path.join(dir, 'nowhere'),
    });
  });

  it('--reports that is a file, under a file, on a read-only filesystem, or under /proc', async function () {
    const run = (r: string) => ['--board', 'qemu-x86-64', '--reports', r];
    await refused(run(path.join(dir, 'afile')), /--reports .*afile: is a file, not a folder$/);
    await refused(run(path.join(dir, 'afile', 'sub')), /afile is a file, so no folder can be made under it$/);
    await refused(
      run('/proc/hwt-reports'),
      /--reports \/proc\/hwt-reports: \/proc is on procfs, a kernel filesystem/,
    );
    const ro = path.join(dir, 'ro');
    mkdirSync(ro);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]).status !== 0) return;
    try {
      await refused(run(path.join(ro, 'r')), /ro is on a read-only filesystem$/);
    } finally {
      spawnSync('umount', [ro]);
    }
  });

  it('the report folder under /proc cannot spin: mkdirs ends where mkdir -p loops for ever', async function () {
    const err = await mkdirs('/proc/hwt-x/y').catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException).code).to.equal('ENOENT');
    const f = path.join(dir, 'afile');
    expect(
      ((await mkdirs(path.join(f, 'x')).catch((e: unknown) => e)) as NodeJS.ErrnoException).code,
    ).to.equal('ENOTDIR');
    await mkdirs(path.join(dir, 'a', 'b', 'c'));
    expect(existsSync(path.join(dir, 'a', 'b', 'c'))).to.equal(true);
  });

  it('`--suite ,` names no suite', async function () {
    await refused(
      ['--board', 'qemu-x86-64', '--suite', ',', '--reports', reports],
      /--suite ,: no suite named/,
    );
  });

  for (const name of ['constructor', '__proto__', 'toString']) {
    it(`\`--board ${name}\` with a lab file is a name like any other`, async function () {
      await refused(
        ['--board', name, '--lab', path.join(ROOT, 'boards/labs/virtual.yaml'), '--reports', reports],
        new RegExp(`no board "${name}" is wired on this host`),
      );
    });
  }

  it('`--parallel -1` says what it expects', async function () {
    await refused(
      ['--board', 'qemu-x86-64', '--parallel', '-1', '--reports', reports],
      /--parallel -1: expected a whole number >= 1$/,
    );
  });
});

describe('signals: the first ends the process within its deadline, whatever the run is stuck in', function () {
  function fakeHost() {
    const handlers = new Map<string, (s: NodeJS.Signals) => void>();
    const timers: { fn: () => void; ms: number }[] = [];
    const h = {
      exits: [] as number[],
      lines: [] as string[],
      timers,
      on: (s: NodeJS.Signals, fn: (s: NodeJS.Signals) => void) => void handlers.set(s, fn),
      exit: (c: number) => void h.exits.push(c),
      err: (l: string) => void h.lines.push(l),
      later: (fn: () => void, ms: number) => void timers.push({ fn, ms }),
      send: (s: NodeJS.Signals) => handlers.get(s)!(s),
    };
    return h satisfies SignalHost & { send: unknown };
  }

  it('aborts the run, and exits 130 when the teardown has not ended by the deadline', function () {
    const ctl = new AbortController();
    const h = fakeHost();
    handleSignals(ctl, h, 9000);
    h.send('SIGTERM');
    expect(ctl.signal.aborted).to.equal(true);
    expect(h.exits).to.deep.equal([]);
    expect(h.timers.map((t) => t.ms)).to.deep.equal([9000]);
    h.timers[0].fn();
    expect(h.exits).to.deep.equal([130]);
    expect(h.lines.at(-1)).to.match(/the teardown did not end within 9 s of SIGTERM: exiting \(130\)/);
  });

  it('a second signal exits at once', function () {
    const h = fakeHost();
    handleSignals(new AbortController(), h);
    h.send('SIGINT');
    h.send('SIGINT');
    expect(h.exits).to.deep.equal([130]);
  });

  it('a closed terminal (SIGHUP) is a first signal too: the run is aborted under the same deadline', function () {
    const ctl = new AbortController();
    const h = fakeHost();
    handleSignals(ctl, h, 9000);
    h.send('SIGHUP');
    expect(ctl.signal.aborted).to.equal(true);
    expect(h.timers.map((t) => t.ms)).to.deep.equal([9000]);
  });

  it('`npm run hw-test` gives 130 on SIGTERM, like the bin: npm signals hw-test itself (exec), not a shell', async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-npm-'));
    mkdirSync(path.join(dir, 'boards'));
    writeFileSync(
      path.join(dir, 'boards', 'npm-x86-64.yaml'),
      readFileSync(path.join(ROOT, 'boards/qemu-x86-64.yaml'), 'utf8').replace(
        /^name: .*$/m,
        'name: npm-x86-64',
      ),
    );
    const env = {
      ...process.env,
      CI: 'true',
      HW_TEST_BOARDS_DIR: path.join(dir, 'boards'),
      HW_TEST_HEALTH: path.join(dir, 'health.json'),
      HW_TEST_LOCK_DIR: path.join(dir, 'locks'),
    };
    // The board is busy: the run waits for it, signal-aware, until the SIGTERM.
    const held = await lockBoard('npm-x86-64', { timeoutMs: 0, env });
    try {
      const npm = spawn(
        'npm',
        [
          'run',
          '--silent',
          'hw-test',
          '--',
          '--board',
          'npm-x86-64',
          '--lock-timeout',
          '30',
          '--reports',
          path.join(dir, 'r'),
        ],
        {
          cwd: ROOT,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let err = '';
      npm.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (/is in use by/.test(err)) npm.kill('SIGTERM');
      });
      const code = await new Promise<number | null>((r) => npm.on('close', r));
      expect(code, err).to.equal(130);
      expect(err).to.match(/SIGTERM: powering off, releasing the board and writing the report/);
      // hw-test itself ended: no process is left waiting for the board.
      const left = spawnSync('pgrep', ['-f', `${CLI} --board npm-x86-64`])
        .stdout.toString()
        .trim();
      const left2 = spawnSync('pgrep', ['-f', 'main.js --board npm-x86-64']).stdout.toString().trim();
      expect(left + left2).to.equal('');
    } finally {
      await held.release();
    }
  });
});
