import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import ssh2, { type Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import type { CommandResult, Dut } from '../suite-api/contracts.js';
import { FailError, TimeoutError, errorMessage } from '../errors.js';
import { logger } from '../log.js';
import { abortPromise, settle, throwIfAborted } from '../util/abort.js';
import type { SshKey } from './ssh-key.js';

const log = logger('net:ssh');
const { Client: SshClient } = ssh2;

/**
 * Host keys accepted for one run: the first key a host shows is recorded, a different one later
 * in the same run is refused. Kept in memory only: never written to ~/.ssh/known_hosts, because
 * every flash makes new host keys.
 */
export class RunHostKeys {
  readonly #keys = new Map<string, string>();

  /** true when the key is the one recorded for `host` (or the first seen, now recorded). */
  accept(host: string, key: Buffer): boolean {
    const fp = fingerprint(key);
    const known = this.#keys.get(host);
    if (known === undefined) {
      this.#keys.set(host, fp);
      log('host key of %s accepted for this run: %s', host, fp);
      return true;
    }
    return known === fp;
  }

  get(host: string): string | undefined {
    return this.#keys.get(host);
  }

  /** After a reflash, the board has new host keys. */
  forget(host?: string): void {
    if (host === undefined) this.#keys.clear();
    else this.#keys.delete(host);
  }
}

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  key: SshKey;
  /** The OS profile's password (ssh.password), for an image whose authorized_keys cannot be provisioned. */
  password?: string;
  hostKeys: RunHostKeys;
  /** For messages: the board's name. */
  board?: string;
}

function hostId(t: SshTarget): string {
  return `${t.host}:${t.port}`;
}

function connectOnce(target: SshTarget, timeoutMs: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new SshClient();
    let hostKeyRefused: string | undefined;
    client.once('ready', () => resolve(client));
    client.once('error', (err) => {
      client.end();
      reject(hostKeyRefused ? new FailError(hostKeyRefused, { board: target.board }) : err);
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      privateKey: target.key.privateKey,
      // No agent, and no password unless the profile gives one: only the run's key proves the image took it.
      ...(target.password ? { password: target.password } : {}),
      readyTimeout: Math.max(1000, timeoutMs),
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        if (target.hostKeys.accept(hostId(target), key)) return true;
        hostKeyRefused = `${hostId(target)}: host key changed within the run (was ${target.hostKeys.get(hostId(target))}, now ${fingerprint(key)})`;
        return false;
      },
    });
  });
}

/** A refused host key is a verdict, not a reason to retry. */
function retryable(err: unknown): boolean {
  return !(err instanceof FailError);
}

/**
 * Connects with the run's key, retrying (the board's sshd may not be up yet) until `timeoutMs`;
 * the failure quotes the last error seen.
 */
export async function sshConnect(
  target: SshTarget,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<SshDut> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown;
  let attempts = 0;
  while (Date.now() < deadline) {
    throwIfAborted(opts.signal);
    attempts++;
    const abort = abortPromise(opts.signal);
    try {
      const client = await Promise.race([
        connectOnce(target, Math.min(deadline - Date.now(), 20_000)),
        abort.promise,
      ]);
      log('ssh %s@%s ready after %d attempt(s)', target.username, hostId(target), attempts);
      return new SshDut(client, target);
    } catch (err) {
      if (!retryable(err)) throw err;
      last = err;
      log('ssh %s: attempt %d: %s', hostId(target), attempts, errorMessage(err));
    } finally {
      abort.dispose();
    }
    // Retry interval while the board's sshd comes up: no event tells us when it listens.
    const wait = Math.min(1000, deadline - Date.now());
    if (wait > 0) await settle(wait, opts.signal);
  }
  throw new TimeoutError(
    'fail',
    `ssh ${target.username}@${hostId(target)}: no login in ${opts.timeoutMs} ms (${attempts} attempts), last error: ${last === undefined ? 'none' : errorMessage(last)}`,
    {
      board: target.board,
      device: hostId(target),
    },
  );
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A board reached over SSH (the `Dut` the suites get). */
export class SshDut implements Dut {
  /** How the last `put` went: `sftp`, or `exec-cat` when the board has no sftp-server. */
  lastPutMethod: 'sftp' | 'exec-cat' | undefined;
  #sftpMissing: string | undefined;

  constructor(
    private readonly client: Client,
    private readonly target: SshTarget,
  ) {}

  get address(): string {
    return this.target.host;
  }

  /** The TCP port SSH answered on (a forwarded host port under QEMU user-mode networking). */
  get port(): number {
    return this.target.port;
  }

  /**
   * A channel for a person at a terminal (`hw-test ssh`): a login shell, or a command, with a
   * pseudo-terminal when `pty` is given. The caller pipes it and reads its exit code.
   */
  open(o: { command?: string; pty?: { term: string; rows: number; cols: number } }): Promise<ClientChannel> {
    const pty = o.pty ? { term: o.pty.term, rows: o.pty.rows, cols: o.pty.cols } : undefined;
    return new Promise((resolve, reject) => {
      const done = (err: Error | undefined, stream: ClientChannel) => (err ? reject(err) : resolve(stream));
      if (o.command !== undefined) {
        if (pty) this.client.exec(o.command, { pty }, done);
        else this.client.exec(o.command, done);
      } else if (pty) this.client.shell(pty, done);
      else this.client.shell(false, done);
    });
  }

  /** Why sftp was not used, when it was not (e.g. dropbear without an sftp-server). */
  get sftpUnavailable(): string | undefined {
    return this.#sftpMissing;
  }

  private channel(command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => (err ? reject(err) : resolve(stream)));
    });
  }

  async exec(
    command: string,
    opts: { timeoutMs?: number; signal?: AbortSignal; input?: NodeJS.ReadableStream | Buffer } = {},
  ): Promise<CommandResult> {
    throwIfAborted(opts.signal);
    const stream = await this.channel(command);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stream.on('data', (b: Buffer) => out.push(b));
    stream.stderr.on('data', (b: Buffer) => err.push(b));
    const done = new Promise<CommandResult>((resolve) => {
      stream.once('close', (code: number | null, signal?: string) => {
        const stderr = Buffer.concat(err).toString('utf8');
        resolve({ code: code ?? (signal ? 128 : -1), stdout: Buffer.concat(out).toString('utf8'), stderr });
      });
    });
    if (Buffer.isBuffer(opts.input)) stream.end(opts.input);
    else if (opts.input) opts.input.pipe(stream);
    else stream.end();
    const abort = abortPromise(opts.signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (opts.timeoutMs) {
        timer = setTimeout(() => {
          const partial = Buffer.concat(out).toString('utf8').slice(-500);
          reject(
            new TimeoutError(
              'fail',
              `ssh ${this.target.host}: \`${command}\` did not finish in ${opts.timeoutMs} ms (output so far: ${partial || 'none'})`,
              { board: this.target.board },
            ),
          );
        }, opts.timeoutMs);
      }
    });
    try {
      return await Promise.race([done, timeout, abort.promise]);
    } catch (e) {
      stream.close();
      throw e;
    } finally {
      clearTimeout(timer);
      abort.dispose();
    }
  }

  private sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) =>
      this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))),
    );
  }

  /** Copies a file or a buffer to the board: sftp, or `cat > remote` over exec when sftp is missing. */
  async put(local: string | Buffer, remote: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(opts.signal);
    if (this.#sftpMissing === undefined) {
      let sftp: SFTPWrapper | undefined;
      try {
        sftp = await this.sftp();
      } catch (err) {
        this.#sftpMissing = errorMessage(err);
        log(
          'sftp unavailable on %s (%s): falling back to cat over exec',
          this.target.host,
          this.#sftpMissing,
        );
      }
      if (sftp) {
        try {
          await new Promise<void>((resolve, reject) => {
            const cb = (err: Error | null | undefined) => (err ? reject(err) : resolve());
            if (typeof local === 'string') sftp.fastPut(local, remote, cb);
            else sftp.writeFile(remote, local, cb);
          });
          this.lastPutMethod = 'sftp';
          return;
        } finally {
          sftp.end();
        }
      }
    }
    const input = typeof local === 'string' ? createReadStream(local) : local;
    const res = await this.exec(`cat > ${quote(remote)}`, { input, signal: opts.signal });
    if (res.code !== 0) {
      throw new FailError(
        `ssh ${this.target.host}: writing ${remote} failed (exit ${res.code}): ${res.stderr.trim()}`,
        { board: this.target.board },
      );
    }
    this.lastPutMethod = 'exec-cat';
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.client.once('close', () => resolve());
      this.client.end();
      // The board is often powered off before it answers our FIN: the half-closed socket must not
      // keep the controller's process alive until TCP gives up on it (minutes).
      (this.client as unknown as { _sock?: { unref?: () => void } })._sock?.unref?.();
      // An already-closed client emits no second 'close'.
      setImmediate(() => {
        if (!(this.client as unknown as { _sock?: { writable?: boolean } })._sock?.writable) resolve();
      });
    });
  }
}
