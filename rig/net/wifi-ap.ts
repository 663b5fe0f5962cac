/**
 * What the three access points share: the rig's own hostapd on real hardware (hostapd.ts), the
 * virtual board's simulated AP radio (virtual-ap.ts) and a lab's own AP (lab-ap.ts). Each is a
 * `WifiNetwork` for the wifi suite, plus a teardown for the runner.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InfraError } from '../errors.js';
import type { WifiNetwork, WifiStation } from '../suite-api/contracts.js';

export interface AccessPoint extends WifiNetwork {
  /** Stops what the rig started and removes its files (the passphrase's included). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Stations from `hostapd_cli all_sta`: each block opens with the station's MAC on a line of its
 * own, then `key=value` lines, `flags=[AUTH][ASSOC][AUTHORIZED]...` among them.
 */
export function parseStations(text: string): WifiStation[] {
  const stations: WifiStation[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(line)) stations.push({ mac: line.toLowerCase(), flags: [] });
    else if (line.startsWith('flags=') && stations.length)
      stations[stations.length - 1].flags = [...line.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]);
  }
  return stations;
}

/**
 * Leases from busybox `dumpleases -a`: a header (`Mac Address  IP Address  Host Name  Expires at`)
 * whose columns give each field's position (a host name may be empty).
 */
export function parseDumpleases(text: string): { mac: string; address: string; hostname?: string }[] {
  const lines = text.split('\n');
  const header = lines.findIndex((l) => /^Mac Address\s/.test(l));
  if (header < 0) return [];
  const h = lines[header];
  const [ip, name, exp] = ['IP Address', 'Host Name', 'Expires'].map((c) => h.indexOf(c));
  return lines
    .slice(header + 1)
    .filter((l) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}\s/i.test(l))
    .map((l) => {
      const hostname = l.slice(name, exp).trim();
      return {
        mac: l.slice(0, ip).trim().toLowerCase(),
        address: l.slice(ip, name).trim(),
        ...(hostname ? { hostname } : {}),
      };
    });
}

/** hostapd's lines about one station: what it said when the station did (not) join. */
export function stationEvents(log: string, mac: string): string[] {
  const m = mac.toLowerCase();
  return log
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.toLowerCase().includes(m));
}

/**
 * The interface modes a radio supports, from `iw phy PHY info` ("Supported interface modes:"
 * followed by `* AP`, `* managed` ... lines, up to the next heading).
 */
export function parseInterfaceModes(iwPhyInfo: string): string[] {
  const lines = iwPhyInfo.split('\n');
  const at = lines.findIndex((l) => /^\s*Supported interface modes:\s*$/.test(l));
  if (at < 0) return [];
  const modes: string[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /^\s*\* (.+?)\s*$/.exec(l);
    if (!m) break;
    modes.push(m[1]);
  }
  return modes;
}

/**
 * An HTTP server on `address` (the rig's address on the AP's network) serving `bytes` zero bytes
 * at /blob, for the board to fetch over WiFi. Only that address: the board cannot reach it over
 * Ethernet by accident.
 */
export async function serveBlob(
  address: string,
  bytes: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const chunk = Buffer.alloc(64 * 1024);
  const server = createServer((req, res) => {
    if (req.url !== '/blob') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
          return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new InfraError(`cannot serve the WiFi transfer on ${address}: ${err.message}`, { device: address }),
      ),
    );
    server.listen(0, address, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/blob`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
