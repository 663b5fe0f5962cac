import { watch } from 'node:fs';
import path from 'node:path';
import { TimeoutError } from '../errors.js';
import { withDeadline } from '../util/abort.js';
import { parseLeases, readLeaseFile, type Lease } from './dnsmasq.js';

/**
 * Waits until dnsmasq's lease file holds a lease for `mac` (any lease when undefined). Driven by
 * file-system events on the lease file's folder (dnsmasq rewrites the file on every change).
 */
export async function waitForLease(
  leaseFile: string,
  opts: { mac?: string; hostname?: string; timeoutMs: number; signal?: AbortSignal; board?: string },
): Promise<Lease> {
  const mac = opts.mac?.toLowerCase();
  const find = () =>
    parseLeases(readLeaseFile(leaseFile)).find(
      (l) => (!mac || l.mac === mac) && (!opts.hostname || l.hostname === opts.hostname),
    );
  const now = find();
  if (now) return now;
  const watcher = watch(path.dirname(leaseFile));
  try {
    return await withDeadline(
      () =>
        new Promise<Lease>((resolve) => {
          watcher.on('change', () => {
            const l = find();
            if (l) resolve(l);
          });
          // The lease may have landed between the first read and the watch starting.
          const l = find();
          if (l) resolve(l);
        }),
      {
        timeoutMs: opts.timeoutMs,
        signal: opts.signal,
        errorClass: 'fail',
        message: 'no DHCP lease',
        context: () => ({
          board: opts.board,
          file: leaseFile,
          seen: readLeaseFile(leaseFile).trim().split('\n'),
        }),
      },
    );
  } catch (err) {
    if (!(err instanceof TimeoutError)) throw err;
    // Quote the lease file as it is when the wait ran out.
    const content = readLeaseFile(leaseFile).trim() || '(empty)';
    throw new TimeoutError(
      'fail',
      `no DHCP lease${mac ? ` for ${mac}` : ''}${opts.hostname ? ` for ${opts.hostname}` : ''} in ${opts.timeoutMs} ms; lease file ${leaseFile}: ${content}`,
      err.context,
    );
  } finally {
    watcher.close();
  }
}
