import type { WaitEnv } from '../sdmux/block-device.js';

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
