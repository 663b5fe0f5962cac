import path from 'node:path';
import type { OsProfile } from '../catalog/os-profile.js';
import { sshLogin } from '../catalog/os-expect.js';
import type { LabInstance } from '../catalog/lab.js';
import type { WifiCredentials } from '../net/hostapd.js';
import type { SshKey } from '../net/ssh-key.js';

/**
 * A real board's Ethernet: the lab interface, with the rig's dnsmasq on it unless the lab file
 * says the lab's own DHCP serves it (`dhcp: false`).
 */
export async function startLabNetwork(o: {
  board: string;
  inst: LabInstance;
  hostname: string;
  sshKey: SshKey;
  os: OsProfile;
  runDir: string;
  signal: AbortSignal;
}) {
  if (!o.inst.network) return undefined;
  const { createLabNetwork } = await import('../net/lab-network.js');
  return createLabNetwork({
    board: o.board,
    config: { interface: o.inst.network.interface, dhcp: o.inst.network.dhcp === false ? 'lab' : 'rig' },
    hostname: o.hostname,
    sshKey: o.sshKey,
    dir: path.join(o.runDir, 'net'),
    ssh: sshLogin(o.os),
    signal: o.signal,
  });
}

/** The rig's WiFi access point, with this run's SSID and passphrase (a suite's `accessPoint`). */
export async function startAccessPoint(o: {
  board: string;
  apInterface: string;
  credentials: WifiCredentials;
  runDir: string;
  signal: AbortSignal;
}) {
  const { startWifiAp } = await import('../net/hostapd.js');
  // A subnet number of its own per board name, away from the Ethernet pool's low numbers.
  const index = 200 + ([...o.board].reduce((a, c) => a + c.charCodeAt(0), 0) % 50);
  const ap = await startWifiAp({
    board: o.board,
    interface: o.apInterface,
    credentials: o.credentials,
    subnetIndex: index,
    dir: path.join(o.runDir, 'wifi'),
    signal: o.signal,
  });
  return {
    stop: () => ap.stop(),
    context: {
      ssid: o.credentials.ssid,
      subnet: ap.subnet.cidr,
      rigAddress: ap.subnet.gateway,
      iface: o.apInterface,
    },
  };
}
