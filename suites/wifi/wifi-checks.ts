/**
 * The board-side WiFi checks, run over SSH against any `Dut`: the spec runs them on a live board,
 * the unit tests on a server replaying real `iw`/`wpa_cli`/`ip` output.
 */
import type { CommandResult, Dut } from '../fixture.js';

export interface WifiExpectation {
  ssid: string;
  /** The AP's BSSID, when the rig knows it: the board must be associated with that one. */
  bssid?: string;
  /** The AP's subnet, `a.b.c.0/24`. */
  subnet: string;
  /** The rig's address on the AP: reached through `iface` only. */
  rigAddress: string;
  /** The board's WiFi interface (OS profile, board type, else `wlan0`): never the rig's. */
  iface?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A check that did not hold: the message quotes what the board printed. */
export class WifiCheckError extends Error {
  override readonly name = 'AssertionError';
  constructor(
    readonly step: 'association' | 'address' | 'route' | 'transfer',
    message: string,
  ) {
    super(message);
  }
}

function quote(cmd: string, r: CommandResult): string {
  const text = `${r.stdout}${r.stderr}`.trim().replace(/\n\s*/g, ' | ');
  return `\`${cmd}\` (exit ${r.code}): ${text || '(no output)'}`;
}

async function run(dut: Dut, cmd: string, e: WifiExpectation): Promise<CommandResult> {
  return dut.exec(cmd, { timeoutMs: e.timeoutMs ?? 30_000, signal: e.signal });
}

/** `iw dev IF link`, or `wpa_cli status` on an OS without iw: the SSID the board is associated with. */
export async function checkAssociated(
  dut: Dut,
  e: WifiExpectation,
): Promise<{ ssid: string; bssid?: string; via: 'iw' | 'wpa_cli' }> {
  const iface = e.iface ?? 'wlan0';
  const iwCmd = `iw dev ${iface} link`;
  const iw = await run(dut, iwCmd, e);
  if (iw.code !== 127) {
    const bssid = /^Connected to ([0-9a-f:]{17})/im.exec(iw.stdout)?.[1];
    const ssid = /^\s*SSID:\s?(.*)$/m.exec(iw.stdout)?.[1];
    if (!bssid || ssid === undefined)
      throw new WifiCheckError('association', `${iface} is not associated: ${quote(iwCmd, iw)}`);
    if (ssid !== e.ssid)
      throw new WifiCheckError(
        'association',
        `${iface} is associated with "${ssid}", not the rig's "${e.ssid}": ${quote(iwCmd, iw)}`,
      );
    if (e.bssid && bssid.toLowerCase() !== e.bssid.toLowerCase())
      throw new WifiCheckError(
        'association',
        `${iface} is associated with ${bssid}, not the rig's access point ${e.bssid}: ${quote(iwCmd, iw)}`,
      );
    return { ssid, bssid, via: 'iw' };
  }
  const wpaCmd = `wpa_cli -i ${iface} status`;
  const wpa = await run(dut, wpaCmd, e);
  const fields = Object.fromEntries(
    wpa.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  if (wpa.code !== 0 || fields.wpa_state !== 'COMPLETED') {
    throw new WifiCheckError(
      'association',
      `${iface} is not associated (no iw on the board; wpa_cli says): ${quote(wpaCmd, wpa)}`,
    );
  }
  if (fields.ssid !== e.ssid)
    throw new WifiCheckError(
      'association',
      `${iface} is associated with "${fields.ssid}", not "${e.ssid}": ${quote(wpaCmd, wpa)}`,
    );
  if (e.bssid && fields.bssid?.toLowerCase() !== e.bssid.toLowerCase())
    throw new WifiCheckError(
      'association',
      `${iface} is associated with ${fields.bssid}, not the rig's access point ${e.bssid}: ${quote(wpaCmd, wpa)}`,
    );
  return { ssid: fields.ssid, bssid: fields.bssid, via: 'wpa_cli' };
}

function inSubnet(address: string, cidr: string): boolean {
  const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [net, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  return Math.floor(toInt(address) / size) === Math.floor(toInt(net) / size);
}

/** An IPv4 address on the WiFi subnet, per `ip -4 -o addr show dev IF`. */
export async function checkAddress(dut: Dut, e: WifiExpectation): Promise<string> {
  const iface = e.iface ?? 'wlan0';
  const cmd = `ip -4 -o addr show dev ${iface}`;
  const r = await run(dut, cmd, e);
  const addrs = [...r.stdout.matchAll(/\binet\s+(\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]);
  const hit = addrs.find((a) => inSubnet(a, e.subnet));
  if (!hit) {
    throw new WifiCheckError(
      'address',
      `${iface} has no address on the WiFi subnet ${e.subnet} (${addrs.length ? `has ${addrs.join(', ')}` : 'none'}): ${quote(cmd, r)}`,
    );
  }
  return hit;
}

/** The rig is routed through IF (not eth0), and answers a ping sent out of IF. */
export async function checkReachesRig(dut: Dut, e: WifiExpectation): Promise<void> {
  const iface = e.iface ?? 'wlan0';
  const routeCmd = `ip route get ${e.rigAddress}`;
  const route = await run(dut, routeCmd, e);
  const dev = /\bdev\s+(\S+)/.exec(route.stdout)?.[1];
  if (route.code !== 0 || dev !== iface) {
    throw new WifiCheckError(
      'route',
      `the rig ${e.rigAddress} is not routed through ${iface}${dev ? ` but through ${dev}` : ''}: ${quote(routeCmd, route)}`,
    );
  }
  const pingCmd = `ping -c 1 -W 3 -I ${iface} ${e.rigAddress}`;
  const ping = await run(dut, pingCmd, e);
  if (ping.code !== 0 || !/\b1 packets received|\b1 received/.test(ping.stdout)) {
    throw new WifiCheckError(
      'route',
      `the rig ${e.rigAddress} does not answer through ${iface}: ${quote(pingCmd, ping)}`,
    );
  }
}

/** The MAC address of the board's WiFi interface: how the access point knows it. */
export async function boardMac(dut: Dut, e: WifiExpectation): Promise<string> {
  const iface = e.iface ?? 'wlan0';
  const cmd = `cat /sys/class/net/${iface}/address`;
  const r = await run(dut, cmd, e);
  const mac = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.exec(r.stdout.trim())?.[0];
  if (r.code !== 0 || !mac)
    throw new WifiCheckError('association', `the board has no WiFi interface ${iface}: ${quote(cmd, r)}`);
  return mac.toLowerCase();
}

/**
 * The board fetches `url` (served on the rig's side of the AP) with wget or curl, timed on the
 * board by /proc/uptime around the fetch: the SSH round trips are not counted. Undefined when the
 * board has neither client.
 */
export async function checkTransfer(
  dut: Dut,
  url: string,
  bytes: number,
  e: WifiExpectation,
): Promise<{ bytes: number; seconds: number; client: string } | undefined> {
  const cmd =
    'if command -v wget >/dev/null 2>&1; then c=wget; g="wget -q -O -"; ' +
    'elif command -v curl >/dev/null 2>&1; then c=curl; g="curl -fsS"; else echo "hwt-transfer none"; exit 0; fi; ' +
    `s=$(cut -d' ' -f1 /proc/uptime); n=$($g '${url}' | wc -c); t=$(cut -d' ' -f1 /proc/uptime); ` +
    'echo "hwt-transfer $c $n $s $t"';
  const r = await run(dut, cmd, e);
  const m = /^hwt-transfer (\S+)(?: (\d+) ([\d.]+) ([\d.]+))?$/m.exec(r.stdout);
  if (m?.[1] === 'none') return undefined;
  if (!m || m[2] === undefined)
    throw new WifiCheckError('transfer', `the transfer over WiFi did not run: ${quote(cmd, r)}`);
  const got = Number(m[2]);
  if (got !== bytes)
    throw new WifiCheckError(
      'transfer',
      `the board got ${got} of the ${bytes} bytes served at ${url} (${m[1]}): ${quote(cmd, r)}`,
    );
  // /proc/uptime counts hundredths: a transfer faster than that still took some time.
  return { bytes: got, seconds: Math.max(0.01, Number(m[4]) - Number(m[3])), client: m[1] };
}

/** All three, in order; the first that fails throws with what the board printed. */
export async function checkWifi(
  dut: Dut,
  e: WifiExpectation,
): Promise<{ ssid: string; address: string; via: 'iw' | 'wpa_cli' }> {
  const assoc = await checkAssociated(dut, e);
  const address = await checkAddress(dut, e);
  await checkReachesRig(dut, e);
  return { ssid: assoc.ssid, address, via: assoc.via };
}
