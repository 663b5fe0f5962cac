import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { BoardType } from '../catalog/board.js';
import { QEMU_SERIAL, type LabInstance } from '../catalog/lab.js';
import { errorMessage } from '../errors.js';
import type { GpioChip } from '../gpio/gpio.js';
import { openGpioChip } from '../gpio/open.js';
import type { Spawner } from '../util/spawn.js';
import type { GpioLineUse, ToolNeed } from '../catalog/drivers.js';
import { powerDriver } from '../power/registry.js';
import { muxDriver } from '../sdmux/registry.js';
import type { LabBoard } from './lab-board.js';

/** One line of `hw-test doctor`: what was checked, and how it went. */
export interface CheckResult {
  status: 'ok' | 'FAIL' | 'skip';
  /** serial, gpio, power, mux, tool */
  kind: string;
  /** What was checked, e.g. `/dev/serial/by-id/... opens`; for a failure, the reason. */
  text: string;
}

export interface Check {
  kind: string;
  /** Names the part, e.g. `usbsdmux /dev/sg2`. */
  subject: string;
  /** Resolves with the ok text, or `{ skip }`; throws with the reason of a failure. */
  run(): Promise<string | { skip: string }>;
}

export function formatCheck(r: CheckResult): string {
  return `${r.status.padEnd(4)} ${r.kind} ${r.text}`;
}

export async function runChecks(checks: Check[], onResult: (r: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const c of checks) {
    let r: CheckResult;
    try {
      const v = await c.run();
      r =
        typeof v === 'string'
          ? { status: 'ok', kind: c.kind, text: `${c.subject} ${v}` }
          : { status: 'skip', kind: c.kind, text: `${c.subject}: ${v.skip}` };
    } catch (err) {
      r = {
        status: 'FAIL',
        kind: c.kind,
        text: `${c.subject}: ${errorMessage(err).replace(/\s*\n\s*/g, ' ')}`,
      };
    }
    results.push(r);
    onResult(r);
  }
  return results;
}

/** Looks a program up on PATH without running it (a missing tool must not need a spawn to show). */
export async function findOnPath(
  tool: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (tool.includes('/')) return (await isExecutable(tool)) ? tool : undefined;
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, tool);
    if (await isExecutable(p)) return p;
  }
  return undefined;
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await fsp.access(p, 1 /* X_OK */);
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * The external programs this instance's drivers run (each driver says which, and how to get
 * them), and `more` the instance's other parts run (its access point's: ./doctor-wifi.ts).
 */
export function toolsFor(inst: LabInstance, type: BoardType, more: readonly ToolNeed[] = []): ToolNeed[] {
  const tools: ToolNeed[] = [
    ...(powerDriver(inst.power).tools?.(inst.power) ?? []),
    ...(inst.mux ? (muxDriver(inst.mux).tools?.(inst.mux) ?? []) : []),
    ...(type.qemu ? [{ name: type.qemu.binary }] : []),
    ...more,
  ];
  return tools.filter((t, i) => tools.findIndex((u) => u.name === t.name) === i);
}

export function toolChecks(
  inst: LabInstance,
  type: BoardType,
  env?: NodeJS.ProcessEnv,
  more: readonly ToolNeed[] = [],
): Check[] {
  return toolsFor(inst, type, more).map((tool) => ({
    kind: 'tool',
    subject: tool.name,
    async run() {
      const found = await findOnPath(tool.name, env);
      if (!found) throw new Error(`not installed${tool.install ? ` (${tool.install})` : ''}`);
      return `installed (${found})`;
    },
  }));
}

/** Opens the UART through serialport at the board's baud rate, then closes it. */
export async function openSerialOnce(device: string, baudRate: number): Promise<void> {
  try {
    await fsp.stat(device);
  } catch (err) {
    throw new Error(
      `no such device (${(err as NodeJS.ErrnoException).code}); check the USB cable and the by-id name (ls /dev/serial/by-id)`,
    );
  }
  const { SerialPort } = await import('serialport');
  await new Promise<void>((resolve, reject) => {
    const port = new SerialPort({ path: device, baudRate, autoOpen: false });
    port.open((err) => {
      if (err) return reject(new Error(`exists but does not open: ${err.message}`));
      port.close(() => resolve());
    });
  });
}

export function serialCheck(inst: LabInstance, type: BoardType): Check {
  const device = inst.serial.device;
  const baud = inst.serial.baud ?? type.serial.baud;
  if (device === QEMU_SERIAL) {
    return {
      kind: 'serial',
      subject: 'qemu pty',
      run: () => Promise.resolve('allocated by QEMU at each power on'),
    };
  }
  return {
    kind: 'serial',
    subject: device,
    async run() {
      await openSerialOnce(device, baud);
      return `opens at ${baud} baud`;
    },
  };
}

/** Each GPIO line of the instance, claimed at a harmless level (relay off, mux on the board side). */
export function gpioChecks(
  inst: LabInstance,
  opts: { spawner?: Spawner; chipFor?: (name: string) => GpioChip },
): Check[] {
  const lines: GpioLineUse[] = [
    ...(powerDriver(inst.power).gpioLines?.(inst.power) ?? []),
    ...(inst.mux ? (muxDriver(inst.mux).gpioLines?.(inst.mux) ?? []) : []),
  ];
  return lines.map((l) => ({
    kind: 'gpio',
    subject: `${l.chip} line ${l.line} (${l.role})`,
    async run() {
      const chip = opts.chipFor?.(l.chip) ?? openGpioChip({ driver: l.driver, chip: l.chip }, opts);
      const line = await chip.claim(l.line, 'out', l.level);
      await line.release();
      return 'can be claimed';
    },
  }));
}

/** The power switch answers: a relay is switched off and read back; a hub port or PDU is queried. */
export function powerCheck(board: LabBoard): Check {
  const p = board.instance.power;
  const d = powerDriver(p);
  const probe = d.doctorProbe?.(p) ?? 'switch';
  return {
    kind: 'power',
    subject: d.subject?.(p, board.name) ?? `${p.driver} ${board.power.name}`,
    async run() {
      if (typeof probe === 'object') return probe;
      if (probe === 'query') return `answers (${await board.power.state()})`;
      await board.power.off();
      const s = await board.power.state();
      if (s !== 'off') throw new Error(`switched off but reads ${s}`);
      return 'answers (switched off, reads off)';
    },
  };
}

/** The mux answers, and its block device appears on the host side and goes away again. */
export function muxCheck(board: LabBoard): Check | undefined {
  const mux = board.mux;
  const m = board.instance.mux;
  if (!mux || !m) return undefined;
  return {
    kind: 'mux',
    subject: muxDriver(m).subject?.(m, board.name) ?? `${m.driver} ${mux.name}`,
    async run() {
      try {
        const before = await mux.state();
        await mux.toHost();
        await mux.toBoard();
        return `answers (was ${before}); ${mux.hostDevice} appeared on the host side and went away`;
      } catch (err) {
        // The driver's message starts by naming the mux, which the line already does.
        throw new Error(errorMessage(err).replace(/^mux [^:]*?: /, ''), { cause: err });
      }
    },
  };
}
