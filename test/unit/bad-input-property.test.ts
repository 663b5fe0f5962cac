import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { stringify, parse } from 'yaml';
import { loadBoardFile } from '../../rig/catalog/board.js';
import { loadLab } from '../../rig/catalog/lab.js';
import { loadOsProfile } from '../../rig/catalog/os-profile.js';
import { HwTestError } from '../../rig/errors.js';
import { lockBoard, type BoardLock } from '../../rig/runner/lock.js';
import { CLI, ROOT } from '../helpers/cli.js';
import { builtinSuites, suiteOptions } from '../../rig/catalog/suites.js';
import { OPTIONS as BOARDS_OPTIONS } from '../../rig/cli/boards.js';
import { OPTIONS as DOCTOR_OPTIONS } from '../../rig/cli/doctor.js';
import { OPTIONS as FLASH_OPTIONS } from '../../rig/cli/flash.js';
import { CONFIGURE_OPTIONS } from '../../rig/cli/image-configure.js';
import type { OptionSpec } from '../../rig/cli/options.js';
import { RUN_OPTIONS } from '../../rig/cli/run.js';

/**
 * Random arguments and random lab, board and OS-profile YAML thrown at the loaders (in this
 * process, many runs) and at the CLI (child processes, a bounded number): never a stack trace,
 * never exit 1 for bad input, never a hang. The CLI runs in a sandbox: its board types are copies
 * named pbt-*, whose locks this test holds, so no generated run can reach a board (it is refused
 * as busy at the latest), and every path it may name is inside the sandbox.
 */

const SEED = Number(process.env.HW_TEST_PBT_SEED ?? Date.now() % 1e9);
const params = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true });

const referenceBoard = parse(readFileSync(path.join(ROOT, 'boards/qemu-x86-64.yaml'), 'utf8')) as Record<
  string,
  unknown
>;
const referenceOs = parse(readFileSync(path.join(ROOT, 'os/profiles/reference.yaml'), 'utf8')) as Record<
  string,
  unknown
>;

/** Any JSON-like value, for a field's replacement. */
const anyValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -5, max: 1e6 }),
  fc.constantFrom(null, true, false, [], {}, '__proto__', 'constructor', -1, 0, Infinity, '/proc/x'),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
);

/** A valid document with some top-level and nested fields replaced, removed or added. */
function mutated(base: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(base);
  return fc
    .array(
      fc.tuple(
        fc.constantFrom(...keys, '__proto__', 'extra', 'constructor'),
        fc.option(anyValue),
        fc.boolean(),
      ),
      { maxLength: 4 },
    )
    .map((edits) => {
      const doc: Record<string, unknown> = structuredClone(base);
      for (const [k, v, deep] of edits) {
        // Own fields only: doc['__proto__'] would be Object.prototype itself.
        const own = Object.hasOwn(doc, k) ? doc[k] : undefined;
        const target =
          deep && typeof own === 'object' && own !== null ? (own as Record<string, unknown>) : doc;
        const key = target === doc ? k : (Object.keys(target)[0] ?? k);
        if (v === null) delete target[key];
        else
          Object.defineProperty(target, key, {
            value: v,
            enumerable: true,
            writable: true,
            configurable: true,
          });
      }
      return doc;
    });
}

/** YAML text: a mutated document, or raw text (broken syntax, aliases, anchors, tabs). */
function yamlText(base: Record<string, unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    mutated(base).map((d) => stringify(d)),
    fc.string({ maxLength: 80 }),
    fc.constantFrom(
      'a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n',
      '{{{',
      'boards:\n\t- x',
      '- 1\n- 2\n',
      '',
      '!!binary AAAA',
      'a: !!js/function "x"',
    ),
  );
}

function labDoc(types: string[]): fc.Arbitrary<Record<string, unknown>> {
  const inst = fc.record({
    type: fc.oneof(fc.constantFrom(...types), fc.string({ maxLength: 8 })),
    power: fc.record({
      driver: fc.constantFrom('sim-gpio-relay', 'qemu', 'gpio-relay', 'uhubctl', 'bogus'),
      chip: fc.constantFrom('sim-gpiochip0', 'sim-gpiochip1', '/dev/nonexistent-gpio'),
      line: fc.integer({ min: -1, max: 40 }),
    }),
    serial: fc.record({ device: fc.constantFrom('qemu', '/dev/ttyUSB-nonexistent', '') }),
  });
  return fc
    .dictionary(fc.constantFrom('pbt-a', 'pbt-b', '__proto__', 'constructor', 'toString'), inst, {
      maxKeys: 3,
    })
    .map((boards) => ({ description: 'generated', boards }));
}

/** Loads must return or throw an InputError: any other throw is what becomes a stack trace. */
function loadsCleanly(load: () => unknown): void {
  const t0 = Date.now();
  try {
    load();
  } catch (err) {
    expect(err, String((err as Error)?.stack ?? err)).to.be.instanceOf(HwTestError);
    expect((err as HwTestError).class).to.equal('input');
    expect((err as Error).message.split('\n')).to.have.length(1);
  }
  expect(Date.now() - t0, 'a load took too long').to.be.below(2000);
}

describe('bad input, property-based: the loaders (in process)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-pbt-load-'));
    mkdirSync(path.join(dir, 'boards'));
    writeFileSync(
      path.join(dir, 'boards', 'pbt-x86.yaml'),
      stringify({ ...referenceBoard, name: 'pbt-x86' }),
    );
  });
  after(() => console.log(`      (seed ${SEED}: HW_TEST_PBT_SEED=${SEED} replays it)`));

  it('board type YAML', function () {
    fc.assert(
      fc.property(yamlText({ ...referenceBoard, name: 'pbt-y' }), (text) => {
        const f = path.join(dir, 'boards', 'pbt-y.yaml');
        writeFileSync(f, text);
        loadsCleanly(() => loadBoardFile(f));
      }),
      params(150),
    );
  });

  it('lab YAML', function () {
    fc.assert(
      fc.property(
        fc.oneof(
          labDoc(['pbt-x86']).map((d) => stringify(d)),
          yamlText({ boards: {} }),
        ),
        (text) => {
          const f = path.join(dir, 'lab.yaml');
          writeFileSync(f, text);
          loadsCleanly(() => loadLab(f, path.join(dir, 'boards')));
        },
      ),
      params(150),
    );
  });

  it('OS profile YAML', function () {
    fc.assert(
      fc.property(yamlText(referenceOs), (text) => {
        const f = path.join(dir, 'os.yaml');
        writeFileSync(f, text);
        loadsCleanly(() => loadOsProfile(f));
      }),
      params(150),
    );
  });
});

describe('bad input, property-based: the CLI (child processes, a sandbox)', function () {
  this.timeout(180_000);
  let box: string;
  const locks: BoardLock[] = [];
  const NAMES = ['pbt-x86', 'pbt-arm', 'pbt-rnd', 'pbt-a', 'pbt-b'];

  before(async function () {
    box = mkdtempSync(path.join(os.tmpdir(), 'hwt-pbt-cli-'));
    mkdirSync(path.join(box, 'boards'));
    mkdirSync(path.join(box, 'dir'));
    writeFileSync(
      path.join(box, 'boards', 'pbt-x86.yaml'),
      stringify({ ...referenceBoard, name: 'pbt-x86' }),
    );
    const arm = parse(readFileSync(path.join(ROOT, 'boards/qemu-armv7.yaml'), 'utf8')) as object;
    writeFileSync(path.join(box, 'boards', 'pbt-arm.yaml'), stringify({ ...arm, name: 'pbt-arm' }));
    writeFileSync(path.join(box, 'file.img'), Buffer.alloc(64 << 10, 1));
    spawnSync('mkfifo', [path.join(box, 'fifo')]);
    // Every board a generated run could name is busy: the run is refused before it touches one.
    for (const n of NAMES)
      locks.push(await lockBoard(n, { timeoutMs: 0, env: { HW_TEST_LOCK_DIR: path.join(box, 'locks') } }));
  });
  after(async () => {
    for (const l of locks) await l.release();
  });

  const paths = () =>
    fc.constantFrom(
      path.join(box, 'file.img'),
      path.join(box, 'dir'),
      path.join(box, 'fifo'),
      path.join(box, 'nope'),
      path.join(box, 'file.img', 'under'),
      path.join(box, 'lab.yaml'),
      path.join(box, 'os.yaml'),
      '/proc/hwt-pbt',
      '/sys/hwt-pbt',
      '',
    );

  /**
   * An option's kind of value, read from its placeholder in the command's option table (the table
   * that parses it and prints its --help): it mostly gets values of its kind, sometimes anything.
   */
  function kindOf(o: OptionSpec): 'path' | 'name' | 'number' | 'text' | 'flag' {
    if (!o.value) return 'flag';
    if (/FILE|PATH|DEVICE|SRC|DIR|PROFILE|IMAGE/.test(o.value)) return 'path';
    if (/NAME|LIST/.test(o.value)) return 'name';
    if (/^(N|S)$/.test(o.value)) return 'number';
    return 'text';
  }
  /**
   * The subcommands fuzzed, each with every option of its table (a new option is fuzzed without
   * touching this test): the run's own and its suites' (`--lock-timeout` is set by the harness),
   * boards, doctor, flash, image configure.
   */
  let COMMANDS: [string[], OptionSpec[]][] = [];
  before(async function () {
    const suites = suiteOptions(await builtinSuites()).map((o) => ({ ...o, description: '' }));
    COMMANDS = [
      [[], [...RUN_OPTIONS, ...suites].filter((o) => o.name !== 'lock-timeout')],
      [['boards'], [...BOARDS_OPTIONS]],
      [['doctor'], [...DOCTOR_OPTIONS]],
      [['flash'], [...FLASH_OPTIONS]],
      [['image', 'configure'], [...CONFIGURE_OPTIONS]],
    ];
  });

  it('fuzzes every option of the generated option tables, each with values of its kind', function () {
    const all = COMMANDS.flatMap(([, table]) => table.map((o) => `--${o.name}`));
    for (const o of ['--image-sha256', '--timeout', '--cuts', '--seed', '--declare', '--to', '--json'])
      expect(all).to.include(o);
    const run = COMMANDS[0][1];
    expect(kindOf(run.find((o) => o.name === 'parallel')!)).to.equal('number');
    expect(kindOf(run.find((o) => o.name === 'image')!)).to.equal('path');
    expect(kindOf(run.find((o) => o.name === 'board')!)).to.equal('name');
  });

  function args(): fc.Arbitrary<string[]> {
    const names = fc.constantFrom(
      ...NAMES,
      'all',
      '__proto__',
      'constructor',
      'toString',
      ',',
      'boot',
      'boot,,wifi',
      'nosuch',
    );
    const numbers = fc.constantFrom('-1', '0', '1e400', 'NaN', '0x10', '999999999999', '2');
    const text = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('(', '[', '.*', ''));
    const of = { path: paths(), name: names, number: numbers, text, flag: fc.constant('') };
    const stray = fc.constantFrom('--foo', '-x', '--', '--board=', 'extra');
    return fc.constantFrom(...COMMANDS).chain(([head, options]) => {
      const pair: fc.Arbitrary<string[]> = fc.constantFrom(...options).chain((o) => {
        const kind = kindOf(o);
        return kind === 'flag'
          ? fc.constant([`--${o.name}`])
          : fc
              .oneof({ weight: 5, arbitrary: of[kind] as fc.Arbitrary<string> }, text, paths())
              .map((v) => [`--${o.name}`, v]);
      });
      const positional: fc.Arbitrary<string[]> =
        head[0] === 'image' ? paths().map((p) => [p]) : fc.constant([]);
      return fc
        .tuple(
          fc.array(
            fc.oneof(
              { weight: 9, arbitrary: pair },
              stray.map((o): string[] => [o]),
            ),
            { maxLength: 6 },
          ),
          positional,
        )
        .map(([pairs, pos]) => [...head, ...pairs.flat(), ...pos]);
    });
  }

  /** How many leading words name the subcommand (`image configure`, `flash` ...). */
  const head = (argv: string[]) => (argv[0] === 'image' ? 2 : argv[0] && !argv[0].startsWith('-') ? 1 : 0);

  function cli(
    argv: string[],
    boardsDir: string,
  ): Promise<{ code: number | null; err: string; ms: number; killed: boolean }> {
    return new Promise((resolve) => {
      const t0 = Date.now();
      // A run: --reports first (a generated one wins), --lock-timeout last (a busy board is refused at once).
      const all =
        head(argv) === 0 ? ['--reports', path.join(box, 'reports'), ...argv, '--lock-timeout', '0'] : argv;
      const c = spawn(process.execPath, [CLI, ...all], {
        cwd: box,
        env: {
          ...process.env,
          CI: 'true',
          HW_TEST_BOARDS_DIR: boardsDir,
          HW_TEST_HEALTH: path.join(box, 'health.json'),
          HW_TEST_LOCK_DIR: path.join(box, 'locks'),
          HW_TEST_DOWNLOADS: path.join(box, 'downloads'),
          // The generated lab is the default one: every --board reads it.
          HW_TEST_LAB: path.join(box, 'lab.yaml'),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      let killed = false;
      c.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const timer = setTimeout(() => ((killed = true), c.kill('SIGKILL')), 8000);
      c.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, err, ms: Date.now() - t0, killed });
      });
    });
  }

  it('random argument lists with random lab, board and OS-profile files: one clean line, never exit 1, never a hang', async function () {
    await fc.assert(
      fc.asyncProperty(
        args(),
        fc.oneof(
          labDoc(['pbt-x86', 'pbt-arm']).map((d) => stringify(d)),
          yamlText({ boards: {} }),
        ),
        yamlText(referenceOs),
        fc.option(yamlText({ ...referenceBoard, name: 'pbt-rnd' }), { freq: 2 }),
        fc.constantFrom('boards', 'boards', 'boards', 'nope', 'file.img'),
        async (argv, lab, osText, board, boardsDir) => {
          writeFileSync(path.join(box, 'lab.yaml'), lab);
          writeFileSync(path.join(box, 'os.yaml'), osText);
          const rnd = path.join(box, 'boards', 'pbt-rnd.yaml');
          if (board === null) rmSync(rnd, { force: true });
          else writeFileSync(rnd, board);
          const r = await cli(argv, path.join(box, boardsDir));
          const shown = `hw-test ${argv.join(' ')}\n${r.err}`;
          expect(r.killed, `a hang (killed after 8 s): ${shown}`).to.equal(false);
          expect(r.err, shown).to.not.match(/internal error|^\s+at /m);
          expect([0, 2, 3], shown).to.include(r.code);
        },
      ),
      params(Number(process.env.HW_TEST_PBT_CLI_RUNS ?? 30)),
    );
  });
});
