import { promises as fsp } from 'node:fs';
import { InfraError } from '../errors.js';
import { settle, throwIfAborted } from '../util/abort.js';

/** Time and the filesystem as the waits see them; tests inject a fake clock and a fake tree. */
export interface WaitEnv {
  exists(path: string): Promise<boolean>;
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realWaitEnv: WaitEnv = {
  async exists(p) {
    try {
      // stat follows symlinks: a dangling by-id link is not a device yet.
      await fsp.stat(p);
      return true;
    } catch {
      return false;
    }
  },
  now: () => performance.now(),
  sleep: (ms, signal) => settle(ms, signal),
};

export interface WaitPathOptions {
  /** The mux, for the error message. */
  mux: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** udev publishes /dev/disk/by-id links a few hundred ms after the card appears. */
  pollMs?: number;
  env?: WaitEnv;
}

/**
 * Waits for a host-side block device to appear (`present`) or disappear. There is no portable
 * event for a by-id link without udev, so the path is polled; the timeout names the mux and device.
 */
export async function waitForPath(device: string, present: boolean, opts: WaitPathOptions): Promise<void> {
  const env = opts.env ?? realWaitEnv;
  const start = env.now();
  for (;;) {
    throwIfAborted(opts.signal);
    if ((await env.exists(device)) === present) return;
    if (env.now() - start >= opts.timeoutMs) {
      const secs = Math.round(opts.timeoutMs / 100) / 10;
      throw new InfraError(
        `mux ${opts.mux}: block device ${device} did not ${present ? 'appear' : 'disappear'} within ${secs} s`,
        {
          device,
          mux: opts.mux,
          expected: present ? 'present' : 'absent',
          actual: present ? 'absent' : 'present',
        },
      );
    }
    await env.sleep(opts.pollMs ?? 100, opts.signal);
  }
}
