import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { InfraError } from '../errors.js';
import { logger } from '../log.js';
import { settle, withDeadline } from '../util/abort.js';

const log = logger('qmp');

/** How often to look for QEMU's QMP socket while QEMU starts (it appears within milliseconds). */
const SOCKET_POLL_MS = 20;

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export interface QmpConnectOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Stops waiting for the socket when this settles (the QEMU process exited). */
  giveUp?: Promise<unknown>;
}

/**
 * A QEMU Machine Protocol client on a unix socket: greeting, capabilities negotiation, then
 * commands matched to replies by id, and asynchronous events (`RESET`, `STOP`, `SHUTDOWN` ...)
 * emitted as `event`. A closed connection rejects every pending command with an `InfraError`.
 */
export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  readonly greeting: Record<string, unknown>;
  #socket: Socket;
  #buffer = '';
  #nextId = 1;
  #pending = new Map<string, Pending>();
  #closed = false;

  private constructor(
    socket: Socket,
    greeting: Record<string, unknown>,
    rest: string,
    readonly path: string,
  ) {
    super();
    this.#socket = socket;
    this.greeting = greeting;
    this.#buffer = rest;
    socket.on('data', (b: Buffer) => this.#onData(b.toString('utf8')));
    socket.on('error', (err) => log('%s: %s', path, err.message));
    socket.on('close', () => this.#onClose());
  }

  /** Connects (waiting for the socket to appear), reads the greeting and negotiates capabilities. */
  static async connect(path: string, opts: QmpConnectOptions): Promise<QmpClient> {
    let gaveUp = false;
    let lastError = 'the socket never appeared';
    void opts.giveUp?.then(() => (gaveUp = true));
    const client = await withDeadline(
      async (signal) => {
        for (;;) {
          if (gaveUp)
            throw new InfraError(`QMP ${path}: QEMU exited before its monitor answered`, { device: path });
          if (existsSync(path)) {
            const c = await QmpClient.#handshake(path).catch((err: unknown) => {
              lastError = (err as Error).message;
              log('connect %s: %s', path, lastError);
              return undefined;
            });
            if (c) return c;
          }
          await settle(SOCKET_POLL_MS, signal);
        }
      },
      {
        timeoutMs: opts.timeoutMs,
        signal: opts.signal,
        errorClass: 'infra',
        message: `QMP ${path}: no answer`,
        context: () => ({ device: path, actual: lastError }),
      },
    );
    await client.execute('qmp_capabilities');
    return client;
  }

  static #handshake(path: string): Promise<QmpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      let buf = '';
      const onData = (b: Buffer) => {
        buf += b.toString('utf8');
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        cleanup();
        const first = buf.slice(0, nl).trim();
        let greeting: { QMP?: Record<string, unknown> } | undefined;
        try {
          greeting = JSON.parse(first) as { QMP?: Record<string, unknown> };
        } catch {
          greeting = undefined;
        }
        if (!greeting?.QMP) {
          socket.destroy();
          reject(new Error(`not a QMP greeting: ${first.slice(0, 80)}`));
          return;
        }
        resolve(new QmpClient(socket, greeting.QMP, buf.slice(nl + 1), path));
      };
      const onError = (err: Error) => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const onClose = () => onError(new Error('closed before the greeting'));
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
      };
      socket.on('data', onData);
      socket.once('error', onError);
      socket.once('close', onClose);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs a QMP command and resolves with its `return` value; a QMP `error` rejects as infra. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.#closed)
      return Promise.reject(
        new InfraError(`QMP ${this.path}: ${command}: connection closed`, { device: this.path }),
      );
    const id = `hwt-${this.#nextId++}`;
    const msg = JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id });
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { command, resolve: resolve, reject });
      this.#socket.write(`${msg}\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(text: string): void {
    this.#buffer += text;
    for (let nl = this.#buffer.indexOf('\n'); nl >= 0; nl = this.#buffer.indexOf('\n')) {
      const line = this.#buffer.slice(0, nl).trim();
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line) this.#onMessage(line);
    }
  }

  #onMessage(line: string): void {
    let msg: { id?: string; return?: unknown; error?: { class: string; desc: string }; event?: string };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      log('%s: unparsable message %s', this.path, line);
      return;
    }
    if (msg.event) {
      this.emit('event', msg as QmpEvent);
      return;
    }
    const pending = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
    if (!pending || msg.id === undefined) return;
    this.#pending.delete(msg.id);
    if (msg.error) {
      pending.reject(
        new InfraError(`QMP ${pending.command}: ${msg.error.class}: ${msg.error.desc}`, {
          device: this.path,
          command: pending.command,
        }),
      );
    } else pending.resolve(msg.return);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pending.values()) {
      p.reject(
        new InfraError(`QMP ${this.path}: ${p.command}: connection closed (QEMU exited?)`, {
          device: this.path,
          command: p.command,
        }),
      );
    }
    this.#pending.clear();
    this.emit('close');
  }
}
