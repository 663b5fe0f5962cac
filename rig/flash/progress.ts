import type { FlashProgress } from './flasher.js';

/** At most 4 events a second (etcher's rate): enough for a bar, cheap for a log. */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * Turns byte counts into throttled progress events: bytes, rate over the last interval, ETA from
 * the average rate. Events are at least PROGRESS_INTERVAL_MS apart, plus one final event per phase.
 */
export class ProgressMeter {
  #bytes = 0;
  #start: number;
  #lastAt: number;
  #lastBytes = 0;

  constructor(
    private readonly phase: FlashProgress['phase'],
    private readonly total: number,
    private readonly onProgress: ((p: FlashProgress) => void) | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#start = now();
    this.#lastAt = this.#start;
  }

  get bytes(): number {
    return this.#bytes;
  }

  add(n: number): void {
    this.#bytes += n;
    if (!this.onProgress) return;
    const t = this.now();
    if (t - this.#lastAt >= PROGRESS_INTERVAL_MS) this.emit(t);
  }

  /** Sets the position (stream sources report where they are in the image). */
  set(bytes: number): void {
    this.add(bytes - this.#bytes);
  }

  finish(): void {
    if (this.onProgress) this.emit(this.now());
  }

  private emit(t: number): void {
    const dt = (t - this.#lastAt) / 1000;
    const rate = dt > 0 ? (this.#bytes - this.#lastBytes) / dt : 0;
    const avg = (t - this.#start) / 1000 > 0 ? this.#bytes / ((t - this.#start) / 1000) : 0;
    const left = Math.max(0, this.total - this.#bytes);
    this.#lastAt = t;
    this.#lastBytes = this.#bytes;
    this.onProgress!({
      phase: this.phase,
      bytes: this.#bytes,
      total: this.total,
      rate,
      etaSeconds: avg > 0 ? left / avg : 0,
    });
  }
}
