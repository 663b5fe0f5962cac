import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { InfraError } from '../errors.js';
import { logger, mask } from '../log.js';
import { settle } from '../util/abort.js';

const log = logger('lock');

export interface LockInfo {
  board: string;
  pid: number;
  host: string;
  startedAt: string;
  buildUrl?: string;
  command?: string;
}

export interface BoardLock {
  readonly info: LockInfo;
  release(): Promise<void>;
}

export function lockDir(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.HW_TEST_LOCK_DIR ??
    path.join(env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state'), 'hw-test', 'locks')
  );
}

/**
 * The board lock is a Linux abstract-namespace socket bound by the holder: the kernel frees it the
 * moment the process dies (even on SIGKILL), so a cancelled CI job never leaves a stale lock
 * (labgrid #1739). Who holds it is kept beside, in a JSON file, to tell the next run.
 */
function bindAbstract(name: string): Promise<net.Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => sock.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(undefined);
      else reject(err);
    });
    server.listen({ path: `\0hw-test-lock/${name}` }, () => {
      server.unref();
      resolve(server);
    });
  });
}

async function readInfo(file: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

export function describeHolder(i: LockInfo): string {
  return `pid ${i.pid} on ${i.host} since ${i.startedAt}${i.buildUrl ? ` (${i.buildUrl})` : ''}`;
}

export interface LockOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Told once who holds the board while waiting, and once when a dead holder's lock is taken over. */
  onWait?: (holder: LockInfo | undefined) => void;
  onTakeOver?: (dead: LockInfo) => void;
}

export async function lockBoard(board: string, opts: LockOptions): Promise<BoardLock> {
  const env = opts.env ?? process.env;
  const dir = lockDir(env);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${board}.json`);
  const deadline = Date.now() + opts.timeoutMs;
  let told = false;
  for (;;) {
    const server = await bindAbstract(board);
    if (server) {
      const previous = await readInfo(file);
      if (previous && previous.pid !== process.pid) {
        log('taking over the lock of dead holder %o', previous);
        opts.onTakeOver?.(previous);
      }
      const info: LockInfo = {
        board,
        pid: process.pid,
        host: os.hostname(),
        startedAt: new Date().toISOString(),
        buildUrl: env.BUILD_URL,
        // The command line may carry an image URL with a password or a signed query.
        command: mask(process.argv.slice(1).join(' ')),
      };
      await writeFile(file, `${JSON.stringify(info, null, 2)}\n`);
      let released = false;
      return {
        info,
        async release() {
          if (released) return;
          released = true;
          await rm(file, { force: true });
          await new Promise<void>((r) => server.close(() => r()));
        },
      };
    }
    const holder = await readInfo(file);
    if (!told) {
      opts.onWait?.(holder);
      told = true;
    }
    if (Date.now() >= deadline) {
      throw new InfraError(
        `board ${board} is busy: held by ${holder ? describeHolder(holder) : 'another run'}; waited ${Math.round(opts.timeoutMs / 1000)} s (--lock-timeout)`,
        // Another run holds a healthy board: retried by whoever asked, never a strike against it.
        { board, holder, boardFault: false },
      );
    }
    // Polling is the only way to learn of a release of an abstract socket; 250 ms is cheap.
    await settle(Math.min(250, Math.max(0, deadline - Date.now())), opts.signal);
  }
}
