import path from 'node:path';
import type { LabInstance, WifiSpec } from '../catalog/lab.js';
import { InputError } from '../errors.js';
import { registerSecret } from '../log.js';
import {
  generateWifiCredentials,
  validateWifiCredentials,
  wifiSubnet,
  type WifiCredentials,
} from '../net/hostapd.js';
import { planGivenSubnet } from '../net/subnet.js';
import type { AccessPoint } from '../net/wifi-ap.js';
import type { BoardNetwork } from '../suite-api/contracts.js';
import type { ResolvedBoard } from './board-factory.js';

/** The run's WiFi, decided before the image is prepared: what the image is given, and by whom. */
export interface WifiPlan {
  /** The credentials provisioned into the image. */
  credentials: WifiCredentials;
  /** The lab file's entry, when it has one (the rig's AP interface, or the lab's own AP). */
  spec?: WifiSpec;
}

/**
 * Whether this run sets a WiFi network up, and with which credentials: only when a suite asks for
 * the access point and the board has what that suite needs (`wanted`: the run's needs). Made for
 * the run when the rig runs the AP (a virtual board's simulated one, or hostapd on the lab file's
 * `apInterface`), the lab's when the lab file names its own AP (`ssid`, passphrase from
 * HW_TEST_WIFI_PSK). A real board with a radio but no AP to join is bad input, before anything
 * is flashed.
 */
export function planWifi(o: {
  board: ResolvedBoard;
  wanted: boolean;
  env: NodeJS.ProcessEnv;
}): WifiPlan | undefined {
  if (!o.wanted) return undefined;
  const lab = o.board.wiring?.instance;
  const spec = lab?.wifi;
  if (lab && spec?.ssid) return { credentials: labCredentials(lab, spec.ssid, o.env), spec };
  if (!o.board.type.virtual && !spec?.apInterface)
    throw new InputError(
      `${lab?.file ?? 'the lab file'}: boards.${o.board.name} has no wifi entry: joining an access point needs the rig's AP interface (wifi.apInterface) or the lab's own AP (wifi.ssid); see docs/wiring.md`,
      { board: o.board.name, field: `boards.${o.board.name}.wifi` },
    );
  return { credentials: generateWifiCredentials(o.board.name), spec };
}

/** The lab's own AP: its SSID from the lab file, its passphrase from HW_TEST_WIFI_PSK (a secret). */
function labCredentials(lab: LabInstance, ssid: string, env: NodeJS.ProcessEnv): WifiCredentials {
  const passphrase = env.HW_TEST_WIFI_PSK;
  if (!passphrase)
    throw new InputError(
      `${lab.file}: boards.${lab.name}.wifi.ssid names the lab's own access point: set HW_TEST_WIFI_PSK to its passphrase`,
      { file: lab.file, field: `boards.${lab.name}.wifi.ssid` },
    );
  registerSecret(passphrase);
  const credentials = { ssid, passphrase };
  validateWifiCredentials(credentials, `HW_TEST_WIFI_PSK for ${ssid}`);
  return credentials;
}

/**
 * The plan's access point. hostapd on the rig's interface and a lab's AP are up when this
 * returns; a virtual board's comes up when the suite asks (`ready`), once the board is booted and
 * reachable over `network`. `apPassphrase` gives the AP another passphrase than the image's: a
 * negative test of the suite (the board must then fail to join).
 */
export async function openAccessPoint(o: {
  plan: WifiPlan;
  board: ResolvedBoard;
  network?: BoardNetwork;
  runDir: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  apPassphrase?: string;
}): Promise<AccessPoint> {
  const { spec } = o.plan;
  const credentials = { ...o.plan.credentials, passphrase: o.apPassphrase ?? o.plan.credentials.passphrase };
  registerSecret(credentials.passphrase);
  const logDir = path.join(o.runDir, 'wifi');
  if (o.board.type.virtual) {
    const network = o.network;
    if (!network)
      throw new InputError(
        `${o.board.name}: the virtual access point is reached over the board's network: a suite that asks for the access point asks for the network too (network: true in its manifest)`,
      );
    const { VirtualAccessPoint } = await import('../net/virtual-ap.js');
    return new VirtualAccessPoint({
      board: o.board.name,
      arch: o.board.type.arch,
      credentials,
      subnet: spec?.subnet ? planGivenSubnet(spec.subnet, spec.rigAddress!) : wifiSubnet(o.board.name),
      connect: (c) => network.connect(c),
      logDir,
      commandTimeoutMs: o.board.type.timeouts.command * 1000,
      env: o.env,
      runSignal: o.signal,
    });
  }
  if (spec?.ssid) {
    const { labAccessPoint } = await import('../net/lab-ap.js');
    return labAccessPoint({
      ssid: spec.ssid,
      subnet: spec.subnet!,
      rigAddress: spec.rigAddress!,
      bssid: spec.bssid,
    });
  }
  const { startWifiAp } = await import('../net/hostapd.js');
  return startWifiAp({
    board: o.board.name,
    interface: spec!.apInterface!,
    credentials,
    subnet: wifiSubnet(o.board.name),
    band: spec!.band,
    channel: spec!.channel,
    countryCode: spec!.countryCode,
    logDir,
    signal: o.signal,
  });
}
