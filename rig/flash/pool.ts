/**
 * A fixed set of buffers with writes in flight: `acquire` waits for a free buffer, `submit` starts
 * an I/O that gives its buffer back when done. The first I/O error is rethrown by the next call.
 */
export class BufferPool {
  #free: Buffer[];
  #waiters: ((b: Buffer) => void)[] = [];
  #inflight = new Set<Promise<void>>();
  #error: Error | undefined;

  constructor(buffers: Buffer[]) {
    this.#free = [...buffers];
  }

  async acquire(): Promise<Buffer> {
    this.#check();
    const b = this.#free.pop() ?? (await new Promise<Buffer>((resolve) => this.#waiters.push(resolve)));
    this.#check();
    return b;
  }

  release(b: Buffer): void {
    const w = this.#waiters.shift();
    if (w) w(b);
    else this.#free.push(b);
  }

  submit(buf: Buffer, io: () => Promise<void>): void {
    const p = io().then(
      () => this.release(buf),
      (err: unknown) => {
        this.#error ??= err instanceof Error ? err : new Error(String(err));
        this.release(buf);
      },
    );
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  /** Waits for every I/O in flight and rethrows the first error. */
  async drain(): Promise<void> {
    while (this.#inflight.size) await Promise.all([...this.#inflight]);
    this.#check();
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
  }
}
