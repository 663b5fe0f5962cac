/**
 * Several boards on one host: 1, 2 and 4 qemu-x86-64 instances (a lab file of plain QEMU boards
 * with distinct names, so each has its own lock and disk) run with `--parallel N`, the boot
 * suite. Samples the process tree every 100 ms from /proc: the node processes' peak RSS (VmHWM)
 * and CPU time (utime + stime), QEMU's CPU apart. Part of `npm run bench:boot` (`-- scale`).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CLI, load, machine, sec, timed, writeSection, type ProcUse } from './boot-util.js';

interface Row {
  n: number;
  wallMs: number;
  parentMb?: number;
  boardMb: number[];
  nodeCpuS: number;
  qemuCpuS: number;
  otherCpuS: number;
}

/** Peak RSS of a node process that loads nothing: the base each board's process starts from. */
function nodeBaseMb(): number {
  const r = spawnSync(
    process.execPath,
    ['-e', 'console.log(/VmHWM:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/status","utf8"))[1])'],
    { encoding: 'utf8' },
  );
  return Number(r.stdout.trim()) / 1024;
}

function row(n: number, wallMs: number, procs: ProcUse[], rootPid: number): Row {
  const node = procs.filter((p) => p.comm === 'node');
  const sum = (ps: ProcUse[]) => ps.reduce((a, p) => a + p.cpuS, 0);
  const qemu = procs.filter((p) => p.comm.startsWith('qemu-system'));
  const other = procs.filter((p) => p.comm !== 'node' && !p.comm.startsWith('qemu-system'));
  const parent = node.find((p) => p.pid === rootPid);
  const children = n > 1 ? node.filter((p) => p.pid !== rootPid) : node;
  return {
    n,
    wallMs,
    parentMb: n > 1 && parent ? parent.hwmKb / 1024 : undefined,
    boardMb: children.map((p) => p.hwmKb / 1024),
    nodeCpuS: sum(node),
    qemuCpuS: sum(qemu),
    otherCpuS: sum(other),
  };
}

export async function scaleBench(image: string, lab: (names: string[]) => string): Promise<void> {
  const names = ['bench-s1', 'bench-s2', 'bench-s3', 'bench-s4'];
  const labFile = lab(names);
  const reports = join(homedir(), '.cache/hw-test/bench/boot/scale-reports');
  const base = nodeBaseMb();
  const loadBefore = load();
  const rows: Row[] = [];
  for (const n of [1, 2, 4]) {
    rmSync(reports, { recursive: true, force: true });
    const boards = names.slice(0, n).join(',');
    const args = ['--board', boards, '--parallel', String(n), '--lab', labFile, '--image', image];
    const r = await timed(process.execPath, [CLI, ...args, '--suite', 'boot', '--reports', reports]);
    if (r.code !== 0) throw new Error(`${n} boards: exit ${r.code}: ${(r.stdout + r.stderr).slice(-1500)}`);
    rows.push(row(n, r.wallMs, r.procs, r.pid));
    console.error(`${n} boards: ${sec(r.wallMs)} s (load ${load()})`);
  }
  const mb = (x: number) => x.toFixed(0);
  const maxBoard = (r: Row) => Math.max(...r.boardMb);
  const lines = rows.map((r) => {
    const perBoardCpu = r.nodeCpuS / r.n;
    const share = r.nodeCpuS / (r.nodeCpuS + r.qemuCpuS + r.otherCpuS);
    return `| ${r.n} | ${sec(r.wallMs)} | ${mb(maxBoard(r))} (${mb(maxBoard(r) - base)}) | ${r.parentMb ? mb(r.parentMb) : '-'} | ${perBoardCpu.toFixed(2)} | ${(r.qemuCpuS / r.n).toFixed(1)} | ${(share * 100).toFixed(1)}% |`;
  });
  const worstMb = Math.max(...rows.map((r) => maxBoard(r) - base));
  const worstShare = Math.max(...rows.map((r) => r.nodeCpuS / (r.nodeCpuS + r.qemuCpuS + r.otherCpuS)));
  writeSection(
    'Several boards',
    `
Run with \`npm run bench:boot -- scale\` on ${machine()}; load average ${loadBefore} before, ${load()} after.
The command: \`hw-test --board bench-s1,...,bench-sN --parallel N --lab LAB --image REFERENCE_IMAGE
--suite boot\` (LAB: four qemu-x86-64 instances with QEMU's own power, written by the bench; each
board runs in a child process of its own, one alone runs in the CLI's process). The process tree
is sampled every 100 ms from /proc: peak RSS is VmHWM, CPU is utime + stime of each process as
last seen. A node process that loads nothing peaks at ${mb(base)} MB here (the base).

| boards | wall s | controller peak RSS per board, MB (beyond the base) | parent process MB | controller CPU s per board | QEMU CPU s per board | controller share of the CPU |
| --- | --- | --- | --- | --- | --- | --- |
${lines.join('\n')}

Where a board's memory goes (one board, VmRSS sampled every 20 ms): ~73 MB once the CLI's modules
are loaded (mocha, allure, ajv, yaml, serialport, ssh2), a transient peak of ~130 MB while the
image is copied, hashed and configured (prepare) and flashed with read-back verify (the
flasher's read-ahead buffers), ~80-100 MB during the boot and the suites. Where its CPU goes: node
start-up and imports ~0.3 s, prepare (sha256 of the image, mtools child processes to configure its
FAT partition) ~0.3 s, flash and verify ~0.2 s, the boot session and mocha the rest; a QEMU boot of
the reference OS costs only ~9 s of CPU under TCG, so these fixed costs weigh ~10%.

Targets: below 60 MB per board beyond the base: ${worstMb < 60 ? 'met' : 'missed'} (worst ${mb(worstMb)} MB);
the controller below 2% of the run's CPU: ${worstShare < 0.02 ? 'met' : 'missed'} (worst ${(worstShare * 100).toFixed(1)}%).
`,
  );
}
