/**
 * hw-test alone on the benchmark's work, through the library (no flash, no report): power on the
 * virtual board, wait for the login prompt, log in, run `uname -r`, check its exit code, power
 * off. Usage: `node dist/bench/boot-hwtest.js DISK` (DISK is written to: pass a copy).
 * Prints one JSON line: ms since this process started at each point.
 */
import { readFileSync } from 'node:fs';
import { ConsoleBootSession } from '../rig/board/boot-session.js';
import { createVirtualBoard } from '../rig/board/virtual-board.js';
import { failurePatterns, loadBoard } from '../rig/catalog/board.js';
import { loadOsProfile } from '../rig/catalog/os-profile.js';

// ms since the process started (performance.now() counts from the time origin, before imports).
const since = () => performance.now();

async function main(disk: string): Promise<void> {
  const type = loadBoard('qemu-x86-64');
  const os = loadOsProfile();
  const board = createVirtualBoard({ type, os, disk, name: 'bench-hwtest' });
  const session = new ConsoleBootSession({
    type,
    os,
    console: board.console,
    power: board.power,
    failurePatterns: failurePatterns(type),
  });
  const powerOn = since();
  try {
    await session.reach('login');
    const login = since();
    const shell = await session.shell();
    const r = await shell.run('uname -r');
    if (r.code !== 0) throw new Error(`uname -r exited ${r.code}`);
    const done = since();
    await board.power.off();
    const off = since();
    // The controller's own cost: CPU time and how often its main thread woke up.
    const status = readFileSync('/proc/self/status', 'utf8');
    const ctxt = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    const cpu = process.cpuUsage();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const wakeups = ctxt('voluntary_ctxt_switches') + ctxt('nonvoluntary_ctxt_switches');
    const kernel = r.stdout.trim();
    console.log(JSON.stringify({ powerOn, login, done, off, kernel, cpuMs, wakeups }));
  } finally {
    await board.release();
  }
}

const disk = process.argv[2];
if (!disk) {
  console.error('usage: boot-hwtest DISK');
  process.exit(2);
}
main(disk).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
