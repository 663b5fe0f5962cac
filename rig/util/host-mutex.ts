import { createHash } from 'node:crypto';
import net from 'node:net';
import { InfraError } from '../errors.js';
import { settle } from './abort.js';

/**
 * A mutex for every process on this host, keyed by a name (a file's path): an abstract-namespace
 * socket bound by the holder, as the board lock is (rig/runner/lock.ts). The kernel frees it the
 * moment its holder dies, so a killed run cannot leave it held.
 */
function bind(name: string): Promise<net.Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => sock.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(undefined);
      else reject(err);
    });
    server.listen({ path: `\0hw-test-mutex/${name}` }, () => {
      server.unref();
      resolve(server);
    });
  });
}

/** Runs `fn` holding the mutex for `key`; waits for it up to `timeoutMs` (holders keep it for ms). */
export async function withHostMutex<T>(key: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const name = createHash('sha256').update(key).digest('hex').slice(0, 32);
  const deadline = Date.now() + timeoutMs;
  let server: net.Server | undefined;
  while (!(server = await bind(name))) {
    if (Date.now() >= deadline)
      throw new InfraError(`${key}: another process kept it locked for ${timeoutMs / 1000} s`, { file: key });
    await settle(5 + Math.random() * 10);
  }
  try {
    return await fn();
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}
