/**
 * A whole run: `hw-test --board <qemu-x86-64 instance> --suite boot,network` on the reference
 * image, its wall time against the board's inherent times recorded in summary.json: the boot
 * stages (power on to the shell) and the network suite's tests (the board answering DHCP, mDNS,
 * SSH, DNS and ping while the controller waits). The rest is the controller's share.
 * Part of `npm run bench:boot` (`-- whole` alone); BENCH_WHOLE_RUNS rounds (default 3).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from '../rig/report/model.js';
import { CLI, load, machine, median, sec, timed, writeSection } from './boot-util.js';
import { homedir } from 'node:os';

interface Breakdown {
  wallMs: number;
  /** process start to the run's startedAt: node, imports, argument and catalogue checks */
  startMs: number;
  stepMs: Record<string, number>;
  bootMs: number;
  networkTestsMs: number;
  suitesMs: number;
  nodeCpuS: number;
  qemuCpuS: number;
}

function breakdown(s: RunSummary, wallMs: number, nodeCpuS: number, qemuCpuS: number): Breakdown {
  const stepMs: Record<string, number> = {};
  for (const st of s.steps) stepMs[st.name] = (stepMs[st.name] ?? 0) + st.durationMs;
  const shell = s.stages.find((x) => x.stage === 'shell')?.atMs ?? NaN;
  const networkTestsMs = s.tests.filter((t) => t.suite !== 'boot').reduce((a, t) => a + t.durationMs, 0);
  return {
    wallMs,
    startMs: wallMs - s.durationMs,
    stepMs,
    bootMs: shell,
    networkTestsMs,
    suitesMs: stepMs.suites ?? NaN,
    nodeCpuS,
    qemuCpuS,
  };
}

export async function wholeRunBench(image: string, lab: (names: string[]) => string): Promise<void> {
  const runs = Number(process.env.BENCH_WHOLE_RUNS ?? 3);
  const labFile = lab(['bench-whole']);
  const reports = join(homedir(), '.cache/hw-test/bench/boot/whole-reports');
  const loadBefore = load();
  const all: Breakdown[] = [];
  const args = ['--board', 'bench-whole', '--lab', labFile, '--image', image, '--suite', 'boot,network'];
  for (let i = 0; i < runs; i++) {
    rmSync(reports, { recursive: true, force: true });
    const r = await timed(process.execPath, [CLI, ...args, '--reports', reports]);
    if (r.code !== 0) throw new Error(`whole run: exit ${r.code}: ${(r.stdout + r.stderr).slice(-1500)}`);
    const s = JSON.parse(
      readFileSync(join(reports, 'bench-whole/latest/summary.json'), 'utf8'),
    ) as RunSummary;
    const cpu = (re: RegExp) => r.procs.filter((p) => re.test(p.comm)).reduce((a, p) => a + p.cpuS, 0);
    all.push(breakdown(s, r.wallMs, cpu(/^node$/), cpu(/^qemu-system/)));
    console.error(`whole run ${i + 1}/${runs}: ${sec(r.wallMs)} s (load ${load()})`);
  }
  const m = (f: (b: Breakdown) => number) => median(all.map(f));
  const wall = m((b) => b.wallMs);
  const inherent = m((b) => b.bootMs + b.networkTestsMs);
  const share = (wall - inherent) / wall;
  const step = (name: string) => m((b) => b.stepMs[name] ?? 0);
  const mochaEtc = m((b) => b.suitesMs - b.bootMs - b.networkTestsMs);
  const rows: [string, number][] = [
    ['process start to the run (node, imports, checks)', m((b) => b.startMs)],
    ['reserve (lock)', step('reserve')],
    ['prepare (copy, hash and configure the image)', step('prepare')],
    ['network (namespace, bridge, tap, dnsmasq)', step('network')],
    ['flash (sparse write + read-back verify)', step('flash')],
    ['suites: mocha, power on, logins, commands, between tests', mochaEtc],
    [
      'release, network down, reports, unlock',
      wall -
        m((b) => b.startMs) -
        m((b) => b.suitesMs) -
        ['reserve', 'prepare', 'network', 'flash'].reduce((a, n) => a + step(n), 0),
    ],
  ];
  const pct = (x: number) => `${((x / wall) * 100).toFixed(1)}%`;
  writeSection(
    'Whole run',
    `
Run with \`npm run bench:boot -- whole\` (BENCH_WHOLE_RUNS=${runs}) on ${machine()}; load average
${loadBefore} before, ${load()} after. The command: \`hw-test --board bench-whole --lab LAB --image
REFERENCE_IMAGE --suite boot,network\` (LAB: one qemu-x86-64 instance with QEMU's own power, written
by the bench). Medians, seconds.

| | seconds | share of the wall time |
| --- | --- | --- |
| wall time of the \`hw-test\` process | ${sec(wall)} | 100% |
| board: power on to the shell (summary.json \`stages\`) | ${sec(m((b) => b.bootMs))} | ${pct(m((b) => b.bootMs))} |
| board: network suite's tests (DHCP, mDNS, SSH, DNS, ping) | ${sec(m((b) => b.networkTestsMs))} | ${pct(m((b) => b.networkTestsMs))} |
| **the controller's share** (the rest) | **${sec(wall - inherent)}** | **${pct(wall - inherent)}** |
${rows.map(([n, v]) => `| - ${n} | ${sec(v)} | ${pct(v)} |`).join('\n')}

Target: controller's share under 10%: ${share < 0.1 ? 'met' : 'missed'} (${(share * 100).toFixed(1)}%).
The network suite's tests count as the board's: the controller waits on the board there, though
part of it is the suites' retry granularity (the console's \`ip addr\` asked again each second
until DHCP is done, SSH connects retried each second while sshd starts, mDNS queries backed off
from 0.5 s), which no event can replace.
CPU over the run: the controller's node process ${m((b) => b.nodeCpuS).toFixed(1)} s, QEMU ${m((b) => b.qemuCpuS).toFixed(1)} s.
`,
  );
  console.error(`whole run: ${sec(wall)} s, controller ${(share * 100).toFixed(1)}%`);
}
