import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { nodeSysfsFs, type SysfsFs } from '../../rig/gpio/sysfs.js';
import os from 'node:os';
import path from 'node:path';
import type { WaitEnv } from '../../rig/sdmux/block-device.js';
import { ReplaySpawner, fakeProcess, type ReplayEntry } from '../../rig/util/spawn-replay.js';
import { commandLine, type ProcessHandle } from '../../rig/util/spawn.js';

/** A clock that advances only when a wait sleeps, and a set of paths that "exist". */
export class FakeWaitEnv implements WaitEnv {
  t = 0;
  readonly present = new Set<string>();
  /** Called at each poll: lets a test make a device appear after some time. */
  onPoll?: (t: number) => void;

  exists(p: string): Promise<boolean> {
    this.onPoll?.(this.t);
    return Promise.resolve(this.present.has(p));
  }
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    this.t += ms;
    return Promise.resolve();
  }
}

/** A long-running tool's scripted behaviour: what it prints, and whether it exits at once. */
export interface StartScript {
  match: RegExp;
  stdout?: string;
  stderr?: string;
  /** Exit code when the tool fails at once; undefined: it keeps running until stopped. */
  exitCode?: number;
}

/** ReplaySpawner plus scripted long-running processes (a v2 gpioset holding a line). */
export class ScriptedSpawner extends ReplaySpawner {
  readonly running: ProcessHandle[] = [];

  constructor(
    entries: ReplayEntry[] = [],
    private readonly scripts: StartScript[] = [],
  ) {
    super(entries);
  }

  override start(cmd: string, args: readonly string[]): ProcessHandle {
    const command = commandLine(cmd, args);
    const script = this.scripts.find((s) => s.match.test(command));
    if (!script) return super.start(cmd, args);
    this.calls.push(command);
    const { handle, stdout, stderr, end } = fakeProcess(command);
    this.running.push(handle);
    setImmediate(() => {
      if (script.stdout) stdout.write(script.stdout);
      if (script.stderr) stderr.write(script.stderr);
      if (script.exitCode !== undefined) setImmediate(() => end(script.exitCode!, null));
    });
    return handle;
  }
}

function errno(code: string, p: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: write ${p}`);
  e.code = code;
  return e;
}

/**
 * A fake /sys/class/gpio in a temp dir: chips with base/label/ngpio, and a `kernelFs` that plays
 * the kernel on writes: `export` creates `gpioN/`, a busy line fails with EBUSY, `unexport`
 * removes it, direction `high`/`low` sets the value.
 */
export class FakeSysfs {
  readonly root: string;
  readonly busy = new Set<number>();
  readonly exports: number[] = [];
  readonly unexports: number[] = [];
  readonly kernelFs: SysfsFs;

  constructor() {
    this.root = mkdtempSync(path.join(os.tmpdir(), 'hwt-sysfs-'));
    writeFileSync(path.join(this.root, 'export'), '');
    writeFileSync(path.join(this.root, 'unexport'), '');
    this.kernelFs = {
      ...nodeSysfsFs,
      writeFile: async (p, data) => {
        const rel = path.relative(this.root, p);
        if (rel === 'export') {
          const n = Number(data);
          if (this.busy.has(n)) throw errno('EBUSY', p);
          this.exports.push(n);
          this.exportLine(n);
          return;
        }
        if (rel === 'unexport') {
          this.unexports.push(Number(data));
          rmSync(path.join(this.root, `gpio${Number(data)}`), { recursive: true, force: true });
          return;
        }
        const m = /^gpio(\d+)\/direction$/.exec(rel);
        if (m && (data === 'high' || data === 'low')) {
          await nodeSysfsFs.writeFile(
            path.join(this.root, `gpio${m[1]}`, 'value'),
            data === 'high' ? '1' : '0',
          );
        }
        if (!existsSync(path.dirname(p))) throw errno('ENOENT', p);
        await nodeSysfsFs.writeFile(p, data);
      },
    };
  }

  addChip(base: number, label: string, ngpio: number, devName?: string): this {
    const dir = path.join(this.root, `gpiochip${base}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'base'), `${base}\n`);
    writeFileSync(path.join(dir, 'label'), `${label}\n`);
    writeFileSync(path.join(dir, 'ngpio'), `${ngpio}\n`);
    if (devName) mkdirSync(path.join(dir, 'device', devName), { recursive: true });
    return this;
  }

  exportLine(gpio: number): void {
    const dir = path.join(this.root, `gpio${gpio}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'direction'), 'in\n');
    writeFileSync(path.join(dir, 'value'), '0\n');
  }

  read(gpio: number, file: 'direction' | 'value'): string {
    return readFileSync(path.join(this.root, `gpio${gpio}`, file), 'utf8').trim();
  }

  exported(gpio: number): boolean {
    return existsSync(path.join(this.root, `gpio${gpio}`));
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
