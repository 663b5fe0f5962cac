import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeSysfsFs, type SysfsFs } from '../gpio/sysfs.js';

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
