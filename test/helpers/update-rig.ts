import { PassThrough } from 'node:stream';
import { loadBoard } from '../../rig/catalog/board.js';
import { loadOsProfile, type OsProfile } from '../../rig/catalog/os-profile.js';
import { StreamConsole } from '../../rig/console/stream-console.js';
import type { PowerSwitch } from '../../rig/power/power-switch.js';
import { UpdateFlow } from '../../suites/update-rollback/lib/update-flow.js';
import type { BootSession, BootStage } from '../../suites/fixture.js';

/**
 * The update suite's flow over a console fed with bytes (recorded serial logs or lines a test
 * writes), with a boot session and a power switch that record what they were asked.
 */

/** A boot session that records what the flow asked of it (the real one is tested with the console). */
export class RecordingBoot implements BootSession {
  readonly timings = new Map<BootStage, number>();
  failure: Error | undefined = undefined;
  readonly calls: string[] = [];
  /** Makes reach() fail, as a board that does not come back. */
  reachError: Error | undefined;
  reach(stage: BootStage): Promise<void> {
    this.calls.push(`reach ${stage}`);
    return this.reachError ? Promise.reject(this.reachError) : Promise.resolve();
  }
  shell(): Promise<never> {
    return Promise.reject(new Error('no shell in this test'));
  }
  reboot(opts?: { hard?: boolean }): Promise<void> {
    this.calls.push(`reboot hard=${String(opts?.hard)}`);
    return Promise.resolve();
  }
  expectReboot(): void {
    this.calls.push('expectReboot');
  }
}

export const noPower: PowerSwitch = {
  name: 'none',
  on: () => Promise.resolve(),
  off: () => Promise.resolve(),
  cycle: () => Promise.resolve(),
  state: () => Promise.resolve('unknown'),
  close: () => Promise.resolve(),
};

export async function setup(os: OsProfile = loadOsProfile()) {
  const input = new PassThrough();
  const output = new PassThrough();
  const typed: string[] = [];
  output.on('data', (b: Buffer) => typed.push(b.toString()));
  const console = new StreamConsole({ name: 'recorded', input, output });
  await console.open();
  const boot = new RecordingBoot();
  const ctl = new AbortController();
  const flow = new UpdateFlow({
    console,
    power: noPower,
    boot,
    os,
    type: loadBoard('qemu-x86-64'),
    signal: ctl.signal,
  });
  /**
   * Plays the bytes in small chunks, a timer tick apart, as a UART delivers them: the flow reads
   * the log as it grows (a boot's lines come seconds apart on a real board, ms apart here).
   */
  const play = async (data: Buffer) => {
    for (let i = 0; i < data.length; i += 97) {
      input.write(data.subarray(i, i + 97));
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  return { console, boot, flow, play, ctl, typed };
}

/** Lines as a board prints them, CRLF-terminated. */
export function lines(...text: string[]): Buffer {
  return Buffer.from(text.map((t) => `${t}\r\n`).join(''));
}
