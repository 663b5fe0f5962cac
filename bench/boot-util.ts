/**
 * Helpers shared by the boot, whole-run, several-boards and start-up benchmarks: medians, the
 * machine's description, the process tree's CPU and peak RSS read from /proc, and the sections of
 * docs/benchmarks.md that these benchmarks own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/rig/cli/main.js');
export const DOC = join(ROOT, 'docs/benchmarks.md');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const sec = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : 'n/a');

export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** One line naming the machine, the date and the load, for each section of the doc. */
export function machine(): string {
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  return `${date} UTC, ${cpus().length} CPUs (${model}), Linux ${release()}`;
}

/** The reference image's cached path (built once by the CLI). */
export function referenceImage(): string {
  const r = spawnSync(process.execPath, [CLI, 'image', 'build', '--arch', 'x86_64', '--variant', 'v1'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const img = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !img) throw new Error(`hw-test image build failed (exit ${r.status})`);
  return img;
}

/** Waits for the load average to drop under `max` (TCG timings swing with load), up to `waitS`. */
export async function waitQuiet(max: number, waitS: number): Promise<void> {
  const until = Date.now() + waitS * 1000;
  while (loadavg()[0] > max && Date.now() < until) {
    console.error(`load ${load()} > ${max}: waiting for a quieter machine...`);
    await new Promise((r) => setTimeout(r, 15000));
  }
}

/** Replaces (or appends) the `## title` section of docs/benchmarks.md, keeping the others. */
export function writeSection(title: string, body: string): void {
  const doc = readFileSync(DOC, 'utf8');
  const head = `## ${title}\n`;
  const text = `${head}\n${body.trim()}\n`;
  const at = doc.indexOf(head);
  if (at < 0) {
    writeFileSync(DOC, `${doc.trimEnd()}\n\n${text}`);
    return;
  }
  const next = doc.indexOf('\n## ', at + head.length);
  const rest = next < 0 ? '' : `\n${doc.slice(next + 1)}`;
  writeFileSync(DOC, `${doc.slice(0, at)}${text}${rest}`);
}

export interface ProcUse {
  pid: number;
  comm: string;
  /** utime + stime in seconds, last seen */
  cpuS: number;
  /** VmHWM in kB, last seen (the kernel keeps the peak) */
  hwmKb: number;
}

const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function readProc(pid: number): { ppid: number; comm: string; cpuS: number; hwmKb: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+)/.exec(status);
    return {
      ppid: Number(f[1]),
      comm,
      cpuS: (Number(f[11]) + Number(f[12])) / TICK,
      hwmKb: hwm ? Number(hwm[1]) : 0,
    };
  } catch {
    return undefined;
  }
}

/**
 * Samples the process tree under `root` every `everyMs`: each process's CPU time and peak RSS as
 * last seen before it exited. Reading /proc for a handful of processes costs far less than a ms.
 */
export function sampleTree(root: number, everyMs = 100): { stop(): ProcUse[] } {
  const seen = new Map<number, ProcUse>();
  const tick = () => {
    const tree = new Set([root]);
    const all: { pid: number; ppid: number; comm: string; cpuS: number; hwmKb: number }[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const p = readProc(Number(d));
      if (p) all.push({ pid: Number(d), ...p });
    }
    // Parents appear before children in pid order mostly, but not always: iterate to a fixpoint.
    for (let grew = true; grew;) {
      grew = false;
      for (const p of all)
        if (!tree.has(p.pid) && tree.has(p.ppid)) {
          tree.add(p.pid);
          grew = true;
        }
    }
    // A zombie has no VmHWM any more: keep the peak seen while it lived.
    for (const p of all)
      if (tree.has(p.pid)) {
        const was = seen.get(p.pid);
        const hwmKb = Math.max(p.hwmKb, was?.hwmKb ?? 0);
        seen.set(p.pid, { pid: p.pid, comm: p.comm, cpuS: Math.max(p.cpuS, was?.cpuS ?? 0), hwmKb });
      }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return [...seen.values()];
    },
  };
}

export interface Timed {
  pid: number;
  code: number | null;
  wallMs: number;
  stdout: string;
  stderr: string;
  procs: ProcUse[];
}

/** Runs a command, its wall time from spawn to exit, and its process tree's use. */
export function timed(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Timed> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const sampler = sampleTree(child.pid!);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      resolvePromise({ pid: child.pid!, code, wallMs, stdout, stderr, procs: sampler.stop() });
    });
  });
}

/** The last JSON object a bench helper printed on stdout. */
export function lastJson<T>(out: string): T {
  const line = out
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON result in: ${out.slice(-500)}`);
  return JSON.parse(line) as T;
}
