import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { HwTestError, InfraError, errorMessage, type ErrorClass } from '../errors.js';
import { logger } from '../log.js';
import { lockDir } from '../runner/lock.js';

const log = logger('hands-on:control');

/**
 * The control socket of a console session: the process that holds a board (and its lock) answers
 * `hw-test power` and `hw-test ssh` from other terminals, so that a virtual board, which lives only
 * as long as the process that runs it, can be powered and logged into while a person watches its
 * console. A Unix socket next to the board's lock, mode 0600: only the user who holds the board
 * (or root) may connect, since the SSH endpoint it gives carries the session's private key.
 */
export function controlPath(board: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(lockDir(env), `${board}.sock`);
}

export type PowerAction = 'on' | 'off' | 'cycle';

export type ControlRequest =
  { op: 'power'; action: PowerAction; from: string } | { op: 'ssh'; from: string } | { op: 'info' };

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  /** The session's key (its public half is in the image it flashed, or the profile's ssh.key). */
  privateKey: string;
  /** The OS profile's password (ssh.password), for an image whose keys cannot be provisioned. */
  password?: string;
}

export interface SessionInfo {
  board: string;
  pid: number;
  log: string;
  image?: string;
}

export interface ControlHandlers {
  power(action: PowerAction, from: string): Promise<{ state: string; ms: number }>;
  ssh(from: string): Promise<SshEndpoint>;
  info(): SessionInfo;
}

type Reply = { ok: true; data: unknown } | { ok: false; error: string; class: ErrorClass };

async function answer(handlers: ControlHandlers, line: string): Promise<Reply> {
  try {
    const req = JSON.parse(line) as ControlRequest;
    if (req.op === 'power' && ['on', 'off', 'cycle'].includes(req.action))
      return { ok: true, data: await handlers.power(req.action, req.from) };
    if (req.op === 'ssh') return { ok: true, data: await handlers.ssh(req.from) };
    if (req.op === 'info') return { ok: true, data: handlers.info() };
    return { ok: false, error: `unknown request ${line.slice(0, 80)}`, class: 'input' };
  } catch (err) {
    return { ok: false, error: errorMessage(err), class: err instanceof HwTestError ? err.class : 'error' };
  }
}

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Serves the session's board: one JSON request per connection, one JSON reply. */
export async function serveControl(
  board: string,
  handlers: ControlHandlers,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ControlServer> {
  const file = controlPath(board, env);
  mkdirSync(path.dirname(file), { recursive: true });
  // We hold the board's lock: a socket file left here is a dead session's.
  rmSync(file, { force: true });
  const server = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      void answer(handlers, buf.slice(0, nl)).then((reply) => sock.end(`${JSON.stringify(reply)}\n`));
    });
    sock.on('error', (err) => log('%s: control connection: %s', board, err.message));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve());
  });
  chmodSync(file, 0o600);
  return {
    path: file,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        rmSync(file, { force: true });
      }),
  };
}

/**
 * Asks the session that holds `board`; undefined when none answers (no socket, or a dead
 * session's). A reply that is an error is thrown with its class.
 */
export async function askControl<T>(
  board: string,
  req: ControlRequest,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<T | undefined> {
  const file = controlPath(board, opts.env);
  const text = await new Promise<string | undefined>((resolve, reject) => {
    const sock = net.connect(file);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new InfraError(
          `${board}: the console session did not answer in ${opts.timeoutMs / 1000} s (${file})`,
        ),
      );
    }, opts.timeoutMs);
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d: Buffer) => (buf += d.toString()));
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(buf);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(new InfraError(`${board}: the console session's socket ${file}: ${err.message}`));
    });
  });
  if (text === undefined) return undefined;
  const reply = JSON.parse(text) as Reply;
  if (!reply.ok) throw new HwTestError(reply.class, reply.error, { board });
  return reply.data as T;
}
