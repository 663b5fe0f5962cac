import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { logger } from '../log.js';
import type { Ip } from './ip.js';

const log = logger('net:state');

/** Prefix of every namespace and host link this rig creates; cleanup touches nothing else. */
export const NET_PREFIX = 'hwt-';

/**
 * One board network's record on disk, written before anything is created: a controller that
 * crashes leaves it behind, and the next run removes what it names once its pid is dead.
 */
export interface NetRecord {
  pid: number;
  id: string;
  board: string;
  index: number;
  netns: string;
  hostLink: string;
  /** Processes started in the namespace (dnsmasq): deleting a namespace does not stop them. */
  pids: number[];
  dir: string;
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HW_TEST_NET_STATE ?? '/run/hw-test/net';
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function recordFile(stateDir: string, index: number): string {
  return path.join(stateDir, `${index}.json`);
}

export function readRecords(stateDir: string): NetRecord[] {
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch {
    return [];
  }
  const out: NetRecord[] = [];
  for (const n of names.filter((f) => /^\d+\.json$/.test(f))) {
    try {
      out.push(JSON.parse(readFileSync(path.join(stateDir, n), 'utf8')) as NetRecord);
    } catch {
      log('unreadable state file %s: ignored', n);
    }
  }
  return out;
}

/** Claims subnet `index` atomically (O_EXCL): false when another run holds it. */
export function claimRecord(stateDir: string, rec: NetRecord): boolean {
  mkdirSync(stateDir, { recursive: true });
  try {
    writeFileSync(recordFile(stateDir, rec.index), JSON.stringify(rec, null, 2), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

export function updateRecord(stateDir: string, rec: NetRecord): void {
  writeFileSync(recordFile(stateDir, rec.index), JSON.stringify(rec, null, 2));
}

export function dropRecord(stateDir: string, rec: NetRecord): void {
  rmSync(recordFile(stateDir, rec.index), { force: true });
}

/** Removes what a record names: its processes, its host link, its namespace, its files. */
export async function removeRecorded(ip: Ip, stateDir: string, rec: NetRecord): Promise<void> {
  for (const pid of rec.pids) {
    // A pid is reused after a reboot or a long time: only kill a process started with our files.
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (rec.dir && cmdline.includes(rec.dir)) process.kill(pid, 'SIGKILL');
  }
  if (rec.hostLink.startsWith(NET_PREFIX)) await ip.try(['link', 'del', rec.hostLink]);
  if (rec.netns.startsWith(NET_PREFIX)) await ip.try(['netns', 'del', rec.netns]);
  if (rec.dir && path.dirname(rec.dir) === stateDir) rmSync(rec.dir, { recursive: true, force: true });
  dropRecord(stateDir, rec);
}

/** Leftovers of crashed runs: records whose controller is dead are removed with all they name. */
export async function cleanStale(ip: Ip, stateDir: string): Promise<NetRecord[]> {
  const stale = readRecords(stateDir).filter((r) => !pidAlive(r.pid));
  for (const rec of stale) {
    log('removing leftovers of crashed run (pid %d): netns %s, link %s', rec.pid, rec.netns, rec.hostLink);
    await removeRecorded(ip, stateDir, rec);
  }
  return stale;
}

/**
 * Networks of this process still up when it exits (an uncaught error, process.exit): removed
 * synchronously in the 'exit' hook, so even a crashed controller leaves nothing behind. A kill -9
 * leaves them to the next run's `cleanStale`.
 */
const live = new Map<string, { stateDir: string; rec: NetRecord }>();
let hooked = false;

function removeSync(stateDir: string, rec: NetRecord): void {
  for (const pid of rec.pids) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(rec.dir)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const args of [
    ['link', 'del', rec.hostLink],
    ['netns', 'del', rec.netns],
  ]) {
    try {
      if (args[2].startsWith(NET_PREFIX)) execFileSync('ip', args, { stdio: 'ignore' });
    } catch {
      // gone
    }
  }
  if (rec.dir && path.dirname(rec.dir) === stateDir) rmSync(rec.dir, { recursive: true, force: true });
  dropRecord(stateDir, rec);
}

export function trackLive(stateDir: string, rec: NetRecord): void {
  live.set(rec.id, { stateDir, rec });
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const { stateDir: d, rec: r } of live.values()) removeSync(d, r);
  });
}

export function untrackLive(rec: NetRecord): void {
  live.delete(rec.id);
}
