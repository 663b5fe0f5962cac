import { runChecked, type RunResult, type Spawner } from '../util/spawn.js';

/**
 * iproute2, run through the injected spawner. `ns` runs the command inside a network namespace
 * (`ip -n NS ...`), so nothing here changes the namespace of the controller process itself.
 */
export class Ip {
  constructor(private readonly spawner: Spawner) {}

  run(args: readonly string[], opts: { ns?: string; signal?: AbortSignal } = {}): Promise<RunResult> {
    const full = opts.ns ? ['-n', opts.ns, ...args] : [...args];
    return runChecked(this.spawner, 'ip', full, { signal: opts.signal, timeoutMs: 15_000 });
  }

  /** Like `run`, but a failure (already gone, never made) is not an error: for teardown. */
  async try(args: readonly string[], opts: { ns?: string } = {}): Promise<boolean> {
    const full = opts.ns ? ['-n', opts.ns, ...args] : [...args];
    const res = await this.spawner.run('ip', full, { timeoutMs: 15_000 });
    return res.code === 0;
  }

  async namespaces(): Promise<string[]> {
    const res = await this.spawner.run('ip', ['netns', 'list'], { timeoutMs: 15_000 });
    // `ip netns list` prints `name (id: N)` for namespaces with an id.
    return res.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter(Boolean);
  }

  /** Link names of a namespace (or the host's), without the `@peer` suffix. */
  async links(ns?: string): Promise<string[]> {
    const res = await this.run(['-o', 'link', 'show'], { ns });
    return res.stdout
      .split('\n')
      .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
      .filter((n): n is string => Boolean(n));
  }

  /** IPv4 addresses in use on this host's namespace (CIDR), to choose a subnet that collides with none. */
  async hostAddresses(): Promise<string[]> {
    const res = await this.run(['-4', '-o', 'addr', 'show']);
    return res.stdout
      .split('\n')
      .map((l) => /\sinet\s+(\S+)/.exec(l)?.[1])
      .filter((a): a is string => Boolean(a));
  }

  async routes(): Promise<string[]> {
    const res = await this.run(['-4', 'route', 'show']);
    return res.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter(Boolean);
  }
}
