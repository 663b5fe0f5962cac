/**
 * Start-up benchmark: `hw-test --help` and `hw-test boards` must answer in under 300 ms, so they
 * load no driver, QEMU helper or reporter. 2 warm-up runs, then the median of BENCH_STARTUP_RUNS
 * (default 10) process runs each. Part of `npm run bench:boot` (`-- startup` alone).
 */
import { spawnSync } from 'node:child_process';
import { CLI, load, machine, median, writeSection } from './boot-util.js';

const TARGET_MS = 300;

function timeRuns(argv: string[], runs: number): number[] {
  const out: number[] = [];
  for (let i = -2; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`node ${argv.join(' ')}: exit ${r.status}: ${r.stderr.toString()}`);
    if (i >= 0) out.push(ms);
  }
  return out;
}

export function startupBench(): void {
  const runs = Number(process.env.BENCH_STARTUP_RUNS ?? 10);
  const node = timeRuns(['-e', '0'], runs);
  const cases: [string, string[]][] = [
    ['hw-test --help', ['--help']],
    ['hw-test boards', ['boards']],
  ];
  const rows = cases.map(([name, args]) => {
    const ms = timeRuns([CLI, ...args], runs);
    const m = median(ms);
    return { name, m, min: Math.min(...ms), max: Math.max(...ms), ok: m < TARGET_MS };
  });
  const fmt = (x: number) => x.toFixed(0);
  writeSection(
    'Start-up',
    `
Run with \`npm run bench:boot -- startup\` on ${machine()}, load average ${load()}. Wall time of the
process, ${runs} runs after 2 warm-up runs, milliseconds (the same with hyperfine:
\`hyperfine -N --warmup 2 --runs 10 'node dist/rig/cli/main.js --help' 'node dist/rig/cli/main.js boards'\`).
The CLI imports each subcommand on demand: \`--help\` loads only rig/cli/main.js and its error
module, \`boards\` the catalogue (yaml, ajv and the schemas), no driver, QEMU helper or reporter.

| command | median | min | max | target < ${TARGET_MS} |
| --- | --- | --- | --- | --- |
${rows.map((r) => `| \`${r.name}\` | ${fmt(r.m)} | ${fmt(r.min)} | ${fmt(r.max)} | ${r.ok ? 'met' : 'missed'} |`).join('\n')}
| \`node -e 0\` (the floor) | ${fmt(median(node))} | ${fmt(Math.min(...node))} | ${fmt(Math.max(...node))} | |
`,
  );
  for (const r of rows) console.error(`startup: ${r.name}: median ${fmt(r.m)} ms`);
}
