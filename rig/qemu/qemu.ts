import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, arch as hostArch } from 'node:os';
import path from 'node:path';
import type { BoardType } from '../catalog/board.js';
import { InfraError, InputError } from '../errors.js';
import { logger } from '../log.js';
import { abortPromise } from '../util/abort.js';
import { realSpawner, type ProcessHandle, type Spawner } from '../util/spawn.js';
import { QmpClient } from './qmp.js';

/** util-linux's setpriv: sets the parent-death signal, then execs QEMU. */
const SETPRIV = '/usr/bin/setpriv';

const log = logger('qemu');

/** Time QEMU gets to quit over QMP, then to die of SIGTERM, before SIGKILL. */
const QUIT_GRACE_MS = 3000;
const TERM_GRACE_MS = 2000;
const STDERR_KEEP = 8192;

export interface QemuOptions {
  type: BoardType;
  /** The board's SD card: a raw disk image file. */
  disk?: string;
  /**
   * Whether the card is in the board at this start (a virtual flasher board's mux; default: it
   * is). Read at each start, as a board reads its slot at power on.
   */
  cardPresent?: () => boolean;
  /** A flasher board's internal storage: a second disk, always there, booted when the card is out. */
  internalDisk?: string;
  /** Overrides of the board type's `qemu:` block. */
  firmware?: string;
  cpu?: string;
  smp?: number;
  memoryMb?: number;
  extraArgs?: string[];
  /** Network arguments; default user-mode networking with the board's NIC model. */
  netArgs?: string[];
  /** Command prefix, e.g. `['ip', 'netns', 'exec', 'hwt-b1']` when the tap lives in a namespace. */
  wrapper?: string[];
  spawner?: Spawner;
  /** Instance name, for logs and errors (default: the board type's name). */
  name?: string;
}

export interface QemuStatus {
  running: boolean;
  singlestep?: boolean;
  /** `prelaunch` (started with -S), `running`, `paused`, `shutdown`, `internal-error` ... */
  status: string;
}

/** KVM only when asked for (HW_TEST_KVM=1) and usable: CI has none, and timings must compare. */
export function chooseAccel(type: BoardType, env: NodeJS.ProcessEnv = process.env): 'kvm' | 'tcg' {
  if (env.HW_TEST_KVM !== '1') return 'tcg';
  const native =
    (type.arch === 'x86_64' && hostArch() === 'x64') || (type.arch === 'aarch64' && hostArch() === 'arm64');
  if (!native) return 'tcg';
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return 'kvm';
  } catch {
    return 'tcg';
  }
}

/** The QEMU command line (without the wrapper) for a board; pure, so it is unit-tested. */
export function qemuArgs(
  opts: QemuOptions,
  qmpSocket: string,
  accel: 'kvm' | 'tcg' = chooseAccel(opts.type),
): string[] {
  const q = opts.type.qemu;
  if (!q)
    throw new InputError(
      `${opts.type.file}: board ${opts.type.name} has no qemu: block, it is not a virtual board`,
      { file: opts.type.file, field: 'qemu' },
    );
  const args = ['-name', opts.name ?? opts.type.name, '-machine', q.machine, '-accel', accel];
  const cpu = opts.cpu ?? q.cpu;
  if (cpu) args.push('-cpu', cpu);
  args.push('-m', String(opts.memoryMb ?? q.memoryMb), '-smp', String(opts.smp ?? q.smp ?? 1));
  const firmware = opts.firmware ?? q.firmware;
  if (firmware) args.push('-bios', firmware);
  args.push('-display', 'none', '-monitor', 'none', '-parallel', 'none');
  // Paused until the console is attached: QEMU drops pty output that no reader takes.
  args.push('-S', '-chardev', 'pty,id=con', '-serial', 'chardev:con');
  args.push('-qmp', `unix:${qmpSocket},server=on,wait=off`);
  const device = q.diskDevice ?? 'virtio-blk-pci';
  // With internal storage, the card boots first while it is in (bootindex), as on the real boards.
  const order = (i: number) => (opts.internalDisk ? `,bootindex=${i}` : '');
  if (opts.disk && (opts.cardPresent?.() ?? true)) {
    args.push(
      '-drive',
      `file=${opts.disk},format=raw,if=none,id=sd`,
      '-device',
      `${device},drive=sd${order(0)}`,
    );
  }
  if (opts.internalDisk) {
    args.push(
      '-drive',
      `file=${opts.internalDisk},format=raw,if=none,id=internal`,
      '-device',
      `${device},drive=internal${order(1)}`,
    );
  }
  args.push(...(opts.netArgs ?? netdevArgs(opts.type, 'user')));
  args.push(...(q.extraArgs ?? []), ...(opts.extraArgs ?? []));
  return args;
}

/**
 * The board's NIC on a network backend: `user`, or `tap,ifname=tap-b1,script=no,downscript=no`.
 * `-netdev` + `-device` rather than `-nic`, which refuses MMIO models such as virtio-net-device.
 */
export function netdevArgs(type: BoardType, backend: string): string[] {
  const [kind, ...rest] = backend.split(',');
  const netdev = [kind, 'id=net0', ...rest].join(',');
  return ['-netdev', netdev, '-device', `${type.qemu?.nicModel ?? 'virtio-net-pci'},netdev=net0`];
}

/** Every QEMU this process started, with its QMP folder: killed and removed on exit, so an
 * interrupted controller leaves no QEMU behind. */
const live = new Map<ProcessHandle, string>();
process.on('exit', () => {
  for (const [h, dir] of live) {
    h.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * One QEMU virtual machine: started paused with its serial console on a pty and QMP on a unix
 * socket; restartable (each start is a new process, with a new pty).
 */
export class QemuMachine {
  readonly name: string;
  #opts: QemuOptions;
  #spawner: Spawner;
  #proc: ProcessHandle | undefined;
  #qmp: QmpClient | undefined;
  #dir: string | undefined;
  #pty: string | undefined;
  #stderr = '';

  constructor(opts: QemuOptions) {
    this.#opts = opts;
    this.name = opts.name ?? opts.type.name;
    this.#spawner = opts.spawner ?? realSpawner;
  }

  get running(): boolean {
    return this.#proc?.running ?? false;
  }

  /** The serial console's pty (`/dev/pts/N`) of the running process. */
  get ptyPath(): string {
    if (!this.running || !this.#pty)
      throw new InfraError(`${this.name}: QEMU is not running, it has no console`, { board: this.name });
    return this.#pty;
  }

  get qmp(): QmpClient {
    if (!this.#qmp || this.#qmp.closed)
      throw new InfraError(`${this.name}: QEMU is not running (no QMP)`, { board: this.name });
    return this.#qmp;
  }

  /** What QEMU printed on stderr (the last 8 KiB). */
  get stderr(): string {
    return this.#stderr;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** Starts QEMU paused (`-S`); resolves once QMP answers and the pty is known. */
  async start(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (this.running) return;
    this.#cleanup();
    this.#dir = mkdtempSync(path.join(tmpdir(), 'hwt-qemu-'));
    const socket = path.join(this.#dir, 'qmp.sock');
    const args = qemuArgs(this.#opts, socket);
    const q = this.#opts.type.qemu!;
    const wrapper = this.#opts.wrapper ?? [];
    // The kernel kills QEMU when the controller dies, even by SIGKILL: a board is never left
    // powered on, holding its disk, by a run that is gone.
    const guard =
      this.#spawner === realSpawner && existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL'] : [];
    const [cmd, ...pre] = [...guard, ...wrapper, q.binary];
    const full = [...pre, ...args];
    this.#stderr = '';
    const proc = this.#spawner.start(cmd, full);
    this.#proc = proc;
    live.set(proc, this.#dir);
    proc.stderr?.on(
      'data',
      (b: Buffer) => (this.#stderr = (this.#stderr + b.toString('utf8')).slice(-STDERR_KEEP)),
    );
    proc.stdout?.resume();
    void proc.exited.then(({ code, signal }) => {
      live.delete(proc);
      log('%s: exited (%s)', this.name, code ?? signal);
    });
    let exitError: InfraError | undefined;
    const exitedEarly = proc.exited.then(({ code, signal }) => {
      throw (exitError = new InfraError(
        `${this.name}: QEMU exited at start (${code ?? signal}): ${this.#stderr.trim().split('\n').slice(-3).join(' | ')}`,
        {
          board: this.name,
          command: proc.command,
          stderr: this.#stderr,
        },
      ));
    });
    exitedEarly.catch(() => {});
    const aborted = abortPromise(opts.signal);
    try {
      this.#qmp = await Promise.race([
        QmpClient.connect(socket, {
          timeoutMs: opts.timeoutMs ?? 15000,
          signal: opts.signal,
          giveUp: proc.exited,
        }),
        exitedEarly,
        aborted.promise,
      ]);
      this.#pty = await Promise.race([this.#queryPty(), exitedEarly]);
      log('%s: started pid %d, console %s', this.name, proc.pid, this.#pty);
    } catch (err) {
      await this.kill();
      // When QEMU died, its stderr says why, whatever wait noticed first.
      throw exitError ?? err;
    } finally {
      aborted.dispose();
    }
  }

  async #queryPty(): Promise<string> {
    const chardevs = await this.qmp.execute<{ label: string; filename: string }[]>('query-chardev');
    const con = chardevs.find((c) => c.label === 'con');
    if (!con?.filename.startsWith('pty:')) {
      throw new InfraError(
        `${this.name}: QEMU has no pty console (query-chardev: ${JSON.stringify(chardevs)})`,
        { board: this.name },
      );
    }
    return con.filename.slice('pty:'.length);
  }

  /** Lets a paused machine run (after `-S` or `pause`). */
  async cont(): Promise<void> {
    await this.qmp.execute('cont');
  }

  async pause(): Promise<void> {
    await this.qmp.execute('stop');
  }

  async reset(): Promise<void> {
    await this.qmp.execute('system_reset');
  }

  async status(): Promise<QemuStatus> {
    return this.qmp.execute<QemuStatus>('query-status');
  }

  /** A hard power cut: SIGKILL, no chance to flush anything. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    this.#qmp?.close();
    if (proc?.running) {
      proc.kill('SIGKILL');
      await proc.exited;
    }
    this.#cleanup();
  }

  /** A clean stop: QMP `quit`, then SIGTERM, then SIGKILL, each with a grace period. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc?.running) {
      // QEMU may close the socket before it answers `quit`: the exit is the answer.
      this.#qmp?.execute('quit').catch(() => undefined);
      const gone = await Promise.race([
        proc.exited.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), QUIT_GRACE_MS).unref()),
      ]);
      if (!gone) await proc.stop(TERM_GRACE_MS);
    }
    this.#qmp?.close();
    this.#cleanup();
  }

  #cleanup(): void {
    this.#qmp = undefined;
    this.#pty = undefined;
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}
