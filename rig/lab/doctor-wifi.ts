import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ToolNeed } from '../catalog/drivers.js';
import { simulatedBoard, type LabInstance, type WifiSpec } from '../catalog/lab.js';
import { parseInterfaceModes } from '../net/wifi-ap.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import type { Check } from './doctor-checks.js';

/**
 * The board's access point, as `hw-test doctor` checks it. The rig's own (`wifi.apInterface`):
 * the interface exists and its radio can be an access point (`iw phy PHY info`), and the tools
 * it runs are installed (`wifiTools`, checked with the drivers' tools). The lab's own
 * (`wifi.ssid`): its passphrase is given and this host has its address on the AP's network. A
 * virtual board's AP radio is simulated in the board by the run (docs/wiring.md).
 */
export function wifiChecks(
  inst: LabInstance,
  opts: { spawner?: Spawner; env?: NodeJS.ProcessEnv; sysClassNet?: string } = {},
): Check[] {
  const w = inst.wifi;
  if (!w) return [];
  const spawner = opts.spawner ?? realSpawner;
  const psk = pskCheck(w, opts.env ?? process.env);
  if (simulatedBoard(inst)) return w.ssid ? [psk] : [];
  if (w.ssid) return [psk, rigAddressCheck(w, spawner)];
  return [apInterfaceCheck(w.apInterface!, spawner, opts.sysClassNet ?? '/sys/class/net')];
}

/** The rig's own AP runs hostapd, its control tool and a DHCP server; doctor reads the radio with iw. */
export function wifiTools(inst: LabInstance): ToolNeed[] {
  if (!inst.wifi?.apInterface || simulatedBoard(inst)) return [];
  return [
    { name: 'hostapd', install: 'apt-get install hostapd' },
    { name: 'hostapd_cli', install: 'apt-get install hostapd' },
    { name: 'dnsmasq', install: 'apt-get install dnsmasq-base' },
    { name: 'iw', install: 'apt-get install iw' },
  ];
}

function pskCheck(w: WifiSpec, env: NodeJS.ProcessEnv): Check {
  return {
    kind: 'wifi',
    subject: `lab AP ${w.ssid} passphrase`,
    run: () => {
      if (!env.HW_TEST_WIFI_PSK)
        throw new Error('HW_TEST_WIFI_PSK is not set: the image would get no passphrase');
      return Promise.resolve('given (HW_TEST_WIFI_PSK)');
    },
  };
}

function rigAddressCheck(w: WifiSpec, spawner: Spawner): Check {
  return {
    kind: 'wifi',
    subject: `rig address ${w.rigAddress}`,
    async run() {
      const r = await spawner.run('ip', ['-o', '-4', 'addr', 'show']);
      if (!new RegExp(`\\binet ${w.rigAddress!.replace(/\./g, '\\.')}/`).test(r.stdout))
        throw new Error(`is not an address of this host: join the lab AP's network ${w.subnet} first`);
      return `is this host's, on ${w.subnet}`;
    },
  };
}

function apInterfaceCheck(iface: string, spawner: Spawner, sysClassNet: string): Check {
  const link = path.join(sysClassNet, iface, 'phy80211');
  return {
    kind: 'wifi',
    subject: `AP interface ${iface}`,
    async run() {
      let phy: string;
      try {
        phy = path.basename(await fsp.readlink(link));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(
          code === 'ENOENT'
            ? 'no such WiFi interface (ip link; a USB dongle may have another name, see docs/wiring.md)'
            : `cannot read ${link} (${code})`,
        );
      }
      const r = await spawner.run('iw', ['phy', phy, 'info']);
      if (r.code !== 0)
        throw new Error(`iw phy ${phy} info: exit ${r.code}: ${(r.stderr || r.stdout).trim()}`);
      const modes = parseInterfaceModes(r.stdout);
      if (!modes.includes('AP'))
        throw new Error(
          `${phy} cannot be an access point: its interface modes are ${modes.join(', ') || 'none listed'}`,
        );
      return `exists (${phy}) and supports AP mode`;
    },
  };
}
