import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { InfraError, errorMessage } from '../errors.js';
import { logger } from '../log.js';
import { throwIfAborted } from '../util/abort.js';
import { ConsoleCore, type ConsoleOptions } from './stream-console.js';

const log = logger('serial');

export interface SerialConsoleOptions extends ConsoleOptions {
  /**
   * The device: a path (`/dev/serial/by-id/usb-FTDI_...-if00-port0`) or a function resolved at
   * each open, for a QEMU pty that changes at each start. A function that throws means "not
   * there right now".
   */
  path: string | (() => string);
  baudRate: number;
  /** How long a vanished device may stay away before waits fail as infra (default 30 s). */
  reopenTimeoutMs?: number;
  /** How often to look for a vanished device (default 250 ms: a USB re-enumeration takes ~1 s). */
  pollMs?: number;
  /** Called when a vanished device was found and reopened. */
  onReopen?: (device: string) => void;
}

/**
 * A console on a serial device through serialport: a USB UART or a QEMU pty (the same code path).
 * A device that vanishes (USB-serial unplugged, QEMU exited) is reopened when it comes back; the
 * log goes on across the reopen. `SerialPort.list()` is never called: it needs udevadm.
 *
 * serialport flushes the device's input at each open (TCIOFLUSH), so what a board sends while
 * its device is away or before `open` is lost, as it is on a USB UART: a QEMU board is kept
 * paused until its console is open.
 */
export class SerialConsole extends ConsoleCore {
  #opts: SerialConsoleOptions;
  #port: SerialPort | undefined;
  #device = '';
  /** false once `close` was called: a disconnect then is not a vanished device. */
  #wanted = false;
  #reopening: NodeJS.Timeout | undefined;
  #watch: NodeJS.Timeout | undefined;
  #reopens = 0;
  /** Why the path function last failed. */
  #unresolved = '';

  constructor(opts: SerialConsoleOptions) {
    super(opts);
    this.#opts = opts;
  }

  /** The device path of the current (or last) open. */
  get device(): string {
    return this.#device;
  }

  get isOpen(): boolean {
    return this.#port?.isOpen ?? false;
  }

  /** How many times the device was reopened after vanishing. */
  get reopens(): number {
    return this.#reopens;
  }

  async open(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.isOpen) return;
    this.#wanted = true;
    this.#stopReopening();
    const device = this.#resolve();
    if (!device) {
      throw new InfraError(`${this.name}: serial device not available: ${this.#unresolved}`, {
        device: this.#describe(),
      });
    }
    await this.#openDevice(device);
    this.revive();
  }

  #resolve(): string | undefined {
    try {
      return typeof this.#opts.path === 'function' ? this.#opts.path() : this.#opts.path;
    } catch (err) {
      this.#unresolved = errorMessage(err);
      log('%s: %s', this.name, this.#unresolved);
      return undefined;
    }
  }

  #describe(): string {
    return this.#device || (typeof this.#opts.path === 'string' ? this.#opts.path : 'unresolved');
  }

  #openDevice(device: string): Promise<void> {
    this.#device = device;
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path: device, baudRate: this.#opts.baudRate, autoOpen: false });
      port.open((err) => {
        if (err) {
          reject(
            new InfraError(
              `${this.name}: cannot open serial device ${device}: ${err.message}`,
              { device },
              { cause: err },
            ),
          );
          return;
        }
        this.#port = port;
        port.on('data', (b: Buffer) => this.feed(b));
        port.on('error', (e) => log('%s: %s: %s', this.name, device, e.message));
        port.once('close', (e: (Error & { disconnected?: boolean }) | null) => this.#onClose(port, e));
        this.#watchDevice(port, device);
        log('%s: opened %s at %d baud', this.name, device, this.#opts.baudRate);
        resolve();
      });
    });
  }

  /**
   * A vanished device does not always fail the read: a hung-up tty reads 0 bytes, which serialport
   * retries forever. So the device node is watched too: it goes away on a USB unplug, and a pty's
   * goes when its QEMU exits.
   */
  #watchDevice(port: SerialPort, device: string): void {
    clearInterval(this.#watch);
    this.#watch = setInterval(() => {
      if (existsSync(device) || !port.isOpen) return;
      log('%s: %s is gone', this.name, device);
      clearInterval(this.#watch);
      port.close();
    }, this.#opts.pollMs ?? 250);
    this.#watch.unref();
  }

  #onClose(port: SerialPort, err: (Error & { disconnected?: boolean }) | null): void {
    clearInterval(this.#watch);
    if (this.#port === port) this.#port = undefined;
    if (!this.#wanted) return;
    log(
      '%s: %s vanished (%s), waiting for it to come back',
      this.name,
      this.#device,
      err?.message ?? 'closed',
    );
    this.#reopen(Date.now());
  }

  /** Polls for the device; each try resolves the path again (a new pty, a re-enumerated UART). */
  #reopen(since: number): void {
    const timeoutMs = this.#opts.reopenTimeoutMs ?? 30000;
    const tryOnce = async () => {
      this.#reopening = undefined;
      if (!this.#wanted) return;
      const device = this.#resolve();
      if (device && existsSync(device)) {
        try {
          await this.#openDevice(device);
          this.#reopens++;
          log('%s: %s is back after %d ms', this.name, device, Date.now() - since);
          this.#opts.onReopen?.(device);
          return;
        } catch (err) {
          log('%s: reopen: %s', this.name, errorMessage(err));
        }
      }
      if (Date.now() - since >= timeoutMs) {
        this.#wanted = false;
        this.kill(
          new InfraError(
            `${this.name}: serial device ${this.#describe()} vanished and did not come back within ${timeoutMs / 1000}s`,
            {
              device: this.#describe(),
              seen: this.lastLines(),
            },
          ),
        );
        return;
      }
      this.#reopening = setTimeout(() => void tryOnce(), this.#opts.pollMs ?? 250);
    };
    this.#reopening = setTimeout(() => void tryOnce(), this.#opts.pollMs ?? 250);
  }

  #stopReopening(): void {
    clearTimeout(this.#reopening);
    this.#reopening = undefined;
  }

  write(data: string | Buffer): Promise<void> {
    const port = this.#port;
    if (!port?.isOpen) {
      return Promise.reject(
        new InfraError(`${this.name}: cannot write, serial device ${this.#describe()} is not open`, {
          device: this.#describe(),
        }),
      );
    }
    return new Promise((resolve, reject) => {
      port.write(data, (err) => {
        if (err)
          reject(
            new InfraError(`${this.name}: write to ${this.#device}: ${err.message}`, {
              device: this.#device,
            }),
          );
        else
          port.drain((e) =>
            e
              ? reject(
                  new InfraError(`${this.name}: drain ${this.#device}: ${e.message}`, {
                    device: this.#device,
                  }),
                )
              : resolve(),
          );
      });
    });
  }

  async close(): Promise<void> {
    this.#wanted = false;
    this.#stopReopening();
    clearInterval(this.#watch);
    const port = this.#port;
    this.#port = undefined;
    if (!port?.isOpen) return;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
