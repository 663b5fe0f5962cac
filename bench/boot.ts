/**
 * Boot benchmark (not part of `npm test`): `npm run bench:boot [-- PART...]`, as root, from a
 * clean clone after `npm run setup`. PART is any of `boot`, `whole`, `scale`, `startup` (default:
 * all). Installs labgrid 0.4.1 from Debian (python3-labgrid) when it is missing, then:
 *
 * - boot: the same work (power on, log in, `uname -r` with its exit code, power off) on the
 *   reference image on qemu-x86-64 through labgrid, hw-test's library, hw-test's CLI (boot suite)
 *   and a bare QEMU, alternated, BENCH_RUNS rounds (default 5);
 * - whole: bench/run-whole.ts; scale: bench/scale.ts; startup: bench/boot-startup.ts.
 *
 * Each part writes its section of docs/benchmarks.md (## Boot, ## Whole run, ## Several boards,
 * ## Start-up) with the machine, the date, the load and the command that reproduces it.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { bareArgs } from './boot-bare.js';
import { startupBench } from './boot-startup.js';
import { wholeRunBench } from './run-whole.js';
import { scaleBench } from './scale.js';
import {
  CLI,
  ROOT,
  lastJson,
  load,
  machine,
  median,
  referenceImage,
  sec,
  timed,
  waitQuiet,
  writeSection,
} from './boot-util.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PY = '/usr/bin/python3';
export const WORK = join(homedir(), '.cache/hw-test/bench/boot');

function ensureLabgrid(): void {
  if (spawnSync(PY, ['-c', 'import labgrid'], { stdio: 'ignore' }).status === 0) return;
  console.error('installing labgrid from Debian (python3-labgrid) ...');
  const apt = (...args: string[]) =>
    spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status;
  // A fresh machine may have no package lists yet.
  if (apt('install', '-y', '-q', 'python3-labgrid') === 0) return;
  if (apt('update', '-q') === 0 && apt('install', '-y', '-q', 'python3-labgrid') === 0) return;
  throw new Error('apt-get install python3-labgrid failed: run it as root, then retry');
}

/** A lab file of plain QEMU instances (QEMU's own power), so no run shares a lock with others. */
export function benchLab(dir: string, names: string[]): string {
  const file = join(dir, 'lab.yaml');
  const boards = names
    .map(
      (n) =>
        `  ${n}:\n    type: qemu-x86-64\n    power:\n      driver: qemu\n    serial:\n      device: qemu\n`,
    )
    .join('');
  writeFileSync(file, `description: hw-test benchmark boards\nboards:\n${boards}`);
  return file;
}

function freshDisk(image: string, dest: string): void {
  rmSync(dest, { force: true });
  const r = spawnSync('cp', ['--sparse=always', image, dest]);
  if (r.status !== 0) throw new Error(`cp ${image} ${dest}: ${r.stderr.toString()}`);
}

interface Marks {
  powerOn?: number;
  cpuMs?: number;
  wakeups?: number;
  login?: number;
  shell?: number;
  done: number;
  off: number;
  command?: string;
}

type Tool = 'bare' | 'labgrid' | 'hwtest-lib' | 'hwtest-cli';
const TOOLS: Tool[] = ['bare', 'labgrid', 'hwtest-lib', 'hwtest-cli'];

async function once(tool: Tool, image: string, lab: string): Promise<{ wallMs: number; marks: Marks }> {
  const dir = join(WORK, tool);
  mkdirSync(dir, { recursive: true });
  const disk = join(dir, 'disk.img');
  if (tool !== 'hwtest-cli') freshDisk(image, disk);
  let r;
  if (tool === 'bare') r = await timed(process.execPath, [join(ROOT, 'dist/bench/boot-bare.js'), disk]);
  else if (tool === 'hwtest-lib')
    r = await timed(process.execPath, [join(ROOT, 'dist/bench/boot-hwtest.js'), disk]);
  else if (tool === 'labgrid') {
    copyFileSync(join(ROOT, 'bench/labgrid/env.yaml'), join(dir, 'env.yaml'));
    r = await timed(PY, [join(ROOT, 'bench/labgrid/boot.py'), join(dir, 'env.yaml')]);
  } else {
    const reports = join(dir, 'reports');
    rmSync(reports, { recursive: true, force: true });
    const args = ['--board', 'bench-boot', '--lab', lab, '--image', image, '--suite', 'boot'];
    r = await timed(process.execPath, [CLI, ...args, '--reports', reports]);
    if (r.code === 0) {
      const s = JSON.parse(readFileSync(join(reports, 'bench-boot/latest/summary.json'), 'utf8')) as {
        stages: { stage: string; atMs: number }[];
        startedAt: string;
      };
      const at = (st: string) => s.stages.find((x) => x.stage === st)?.atMs ?? NaN;
      return { wallMs: r.wallMs, marks: { login: at('login'), shell: at('shell'), done: NaN, off: NaN } };
    }
  }
  if (r.code !== 0)
    throw new Error(`${tool}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return { wallMs: r.wallMs, marks: lastJson<Marks>(r.stdout) };
}

async function bootBench(): Promise<void> {
  ensureLabgrid();
  const image = referenceImage();
  mkdirSync(WORK, { recursive: true });
  const lab = benchLab(WORK, ['bench-boot']);
  await waitQuiet(2.5, Number(process.env.BENCH_WAIT_S ?? 600));
  const loadBefore = load();
  const res = new Map<Tool, { wallMs: number; marks: Marks }[]>(TOOLS.map((t) => [t, []]));
  for (let i = 0; i < RUNS; i++) {
    // Alternate the order each round, so no tool always runs after the same one.
    const order = TOOLS.map((_, k) => TOOLS[(k + i) % TOOLS.length]);
    for (const tool of order) {
      const r = await once(tool, image, lab);
      res.get(tool)!.push(r);
      console.error(`round ${i + 1}/${RUNS} ${tool}: ${sec(r.wallMs)} s (load ${load()})`);
    }
  }
  const loadAfter = load();
  const med = (t: Tool, f: (x: { wallMs: number; marks: Marks }) => number | undefined) =>
    median(res.get(t)!.map((x) => f(x) ?? NaN));
  const wall = (t: Tool) => med(t, (x) => x.wallMs);
  const bareLogin = med('bare', (x) => x.marks.login);
  const bareDone = med('bare', (x) => x.marks.off);
  const libLogin = med('hwtest-lib', (x) => x.marks.login);
  const lgWall = wall('labgrid');
  const started = (t: Tool) => sec(med(t, (x) => x.marks.powerOn));
  const spread = (t: Tool, f: (x: { wallMs: number; marks: Marks }) => number) => {
    const xs = res.get(t)!.map(f);
    return `${sec(median(xs))} (${sec(Math.min(...xs))}-${sec(Math.max(...xs))})`;
  };
  const rows = [
    [
      'bare QEMU (spawn to `login:`; to done and killed)',
      '0',
      sec(bareLogin),
      spread('bare', (x) => x.marks.off),
    ],
    ['labgrid 0.4.1 (python3 process)', started('labgrid'), '', spread('labgrid', (x) => x.wallMs)],
    [
      'hw-test library (node process)',
      started('hwtest-lib'),
      sec(libLogin),
      spread('hwtest-lib', (x) => x.wallMs),
    ],
    ['hw-test CLI, boot suite (flash, reports)', '', '', spread('hwtest-cli', (x) => x.wallMs)],
  ];
  const lgCmd = res.get('labgrid')![0].marks.command ?? '';
  const hwCmd = bareArgs('DISK').args.join(' ').replace('-name bench-bare', '-name BOARD');
  const ratioLib = wall('hwtest-lib') / lgWall;
  const ratioCli = wall('hwtest-cli') / lgWall;
  const overLogin = libLogin / bareLogin - 1;
  const overDone = wall('hwtest-lib') / bareDone - 1;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  writeSection(
    'Boot',
    `
Run with \`npm run bench:boot -- boot\` (BENCH_RUNS=${RUNS}) on ${machine()}; load average ${loadBefore} before,
${loadAfter} after (the machine is shared: other QEMU boards ran at the same time, so TCG timings
carry that noise). The reference image (\`hw-test image build --arch x86_64 --variant v1\`) on
qemu-x86-64, a fresh copy of the disk for each run, GRUB from the disk. Each tool does the same
work: power on, wait for the login prompt and log in (root / hwtest), run \`uname -r\` and check its
exit code, power off. The four are alternated, ${RUNS} rounds, the order rotated each round; medians,
seconds, wall time of the whole process (interpreter start-up and imports included), with the
range over the rounds in brackets.

| tool | process start to power on | to the login prompt | whole work |
| --- | --- | --- | --- |
${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}

- ratio hw-test / labgrid: **${ratioLib.toFixed(2)}** (library), ${ratioCli.toFixed(2)} (CLI, which also copies
  and hashes the image, flashes it with read-back verify, runs the mocha boot suite and writes
  JUnit, Allure and summary.json). Target <= 1.0.
- hw-test's overhead over the bare boot: ${pct(overLogin)} to the login prompt (hw-test counted from its
  own process start, QEMU from its spawn), ${pct(overDone)} for the whole work. Target < 5%.

The hw-test library's own cost over its whole run: ${sec(med('hwtest-lib', (x) => x.marks.cpuMs))} s of CPU (node start-up
and imports included), its main thread woke ${med('hwtest-lib', (x) => x.marks.wakeups).toFixed(0)} times
(${(med('hwtest-lib', (x) => x.marks.wakeups) / (wall('hwtest-lib') / 1000)).toFixed(0)} per second: console bytes, the 250 ms
device-node watch, the prompts' 30 ms quiet timers).

The QEMU command lines (machine, CPU, memory, SMP, accelerator, disk device and NIC are the same;
each tool attaches the serial console and QMP its own way):

- hw-test: \`qemu-system-x86_64 ${hwCmd.replace('stdio,id=con', 'pty,id=con')} -S -qmp unix:SOCKET,server=on,wait=off\`
  (the bare script runs the same with \`-chardev stdio,id=con\`, without \`-S\` and QMP);
- labgrid's QEMUDriver: \`qemu-system-x86_64 ${lgCmd.replace(/\/\S*\/disk\.img/, 'DISK').replace(/path=\S+/, 'path=SOCKET')}\`.

labgrid's ShellDriver gets the reference OS's prompt with busybox ash's cursor-position query
(\`ESC[6n\`) allowed after it: labgrid matches the raw bytes, hw-test matches text with escapes
stripped. Beyond the work itself, labgrid's ShellDriver injects its \`run\` shell function, runs
\`dmesg -n 1\` and checks the prompt with an echo; its power off is QMP \`quit\` where hw-test's is a
SIGKILL (a power cut).
`,
  );
  console.error(
    `boot: labgrid ${sec(lgWall)} s, hw-test ${sec(wall('hwtest-lib'))} s, ratio ${ratioLib.toFixed(2)}`,
  );
}

async function main(parts: string[]): Promise<void> {
  const all = ['boot', 'whole', 'scale', 'startup'];
  const want = parts.length ? parts : all;
  for (const p of want)
    if (!all.includes(p)) throw new Error(`unknown part ${p}: expected ${all.join(', ')}`);
  mkdirSync(WORK, { recursive: true });
  if (want.includes('startup')) startupBench();
  if (want.includes('boot')) await bootBench();
  if (want.includes('whole')) await wholeRunBench(referenceImage(), (names) => benchLab(WORK, names));
  if (want.includes('scale')) await scaleBench(referenceImage(), (names) => benchLab(WORK, names));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
