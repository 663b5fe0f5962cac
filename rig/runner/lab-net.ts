import path from 'node:path';
import type { OsProfile } from '../catalog/os-profile.js';
import { sshLogin } from '../catalog/os-expect.js';
import type { LabInstance } from '../catalog/lab.js';
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
