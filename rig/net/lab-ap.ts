import { realSpawner, type Spawner } from '../util/spawn.js';
import { serveBlob, type AccessPoint } from './wifi-ap.js';

export interface LabApOptions {
  ssid: string;
  /** The lab AP's subnet and this host's address on it (lab file). */
  subnet: string;
  rigAddress: string;
  /** The lab AP's BSSID, when the lab file gives it: the board's association is checked against it. */
  bssid?: string;
  spawner?: Spawner;
}

const NOT_OURS = "the lab's own access point (fixed mode): the rig does not run it";

/**
 * A lab's own access point (fixed mode): up before the run, its passphrase from
 * HW_TEST_WIFI_PSK. The rig sees only what any host on that network sees: it reaches the board
 * and serves the transfer from `rigAddress`; the AP's station list and leases are not its to read.
 */
export function labAccessPoint(o: LabApOptions): AccessPoint {
  const spawner = o.spawner ?? realSpawner;
  return {
    kind: 'lab',
    ssid: o.ssid,
    subnet: o.subnet,
    rigAddress: o.rigAddress,
    ready: () => Promise.resolve({ bssid: o.bssid?.toLowerCase() }),
    stations: () => Promise.resolve({ unavailable: `no station list: ${NOT_OURS}` }),
    leases: () => Promise.resolve({ unavailable: `no lease list: ${NOT_OURS}` }),
    events: () => Promise.resolve([]),
    async ping(address, { timeoutMs, signal }) {
      const r = await spawner.run('ping', ['-c', '1', '-W', '3', '-I', o.rigAddress, address], {
        timeoutMs,
        signal,
      });
      return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    serve: (bytes) => serveBlob(o.rigAddress, bytes),
    stop: () => Promise.resolve(),
  };
}
