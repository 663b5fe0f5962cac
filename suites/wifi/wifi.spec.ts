import { InfraError, chainedSteps, rig, skipBecause, type Dut, type WifiNetwork } from '../fixture.js';
import {
  WifiCheckError,
  boardMac,
  checkAddress,
  checkAssociated,
  checkReachesRig,
  checkTransfer,
  type WifiExpectation,
} from './wifi-checks.js';

/**
 * The WiFi suite: the board joins the rig's access point with the credentials written into its
 * image for this run, through the OS's own WiFi start-up, and the rig checks it from both sides of
 * the air: the board's interface (named by the OS profile or the board type, never the rig's) and
 * the AP's station list and leases. A later step that needs an earlier one is skipped, naming the
 * step that failed. A board without a radio is skipped with its capabilities as the reason.
 */
describe('wifi', function () {
  let dut: Dut | undefined;
  let ap: WifiNetwork;
  let e: WifiExpectation;
  let mac: string | undefined;
  let address: string | undefined;
  /** Why the suite cannot run here; each test skips with it (a skip in a hook loses its reason). */
  let unavailable: string | undefined;
  const iface = () => rig().os.wifi?.interface ?? rig().type.wifi?.interface ?? 'wlan0';
  const cmd = () => ({ timeoutMs: rig().type.timeouts.command * 1000, signal: rig().signal });
  const dhcpMs = () => (rig().type.timeouts.dhcp ?? 60) * 1000;

  const step = chainedSteps(() => unavailable);

  before(async function () {
    const { type, boardName, boot, network, wifi } = rig();
    if (!type.capabilities.includes('wifi')) {
      unavailable = `${boardName} has no WiFi radio (${type.name} capabilities: ${type.capabilities.join(', ')})`;
      return;
    }
    if (!wifi)
      throw new InfraError(`${boardName} has a radio but the run set no access point up for it`, {
        board: boardName,
      });
    if (!network) {
      unavailable = 'the WiFi checks run over SSH, and this run set no network up for the board';
      return;
    }
    if (boot.failure) {
      unavailable = `not reached: the boot failed before: ${boot.failure.message}`;
      return;
    }
    const t = type.timeouts;
    this.timeout((t.bootloader + t.kernel + t.userspace + t.login + (t.ssh ?? 60)) * 1000);
    await boot.reach('shell', rig().signal);
    dut = await network.connect({ timeoutMs: (t.ssh ?? 60) * 1000, signal: rig().signal });
    ap = wifi;
    e = { ssid: wifi.ssid, subnet: wifi.subnet, rigAddress: wifi.rigAddress, iface: iface(), ...cmd() };
  });

  after(async () => {
    await dut?.close();
  });

  /** Association and DHCP over the air take a while: ask again until the deadline. */
  async function eventually<T>(timeoutMs: number, check: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await check();
      } catch (err) {
        if (!(err instanceof WifiCheckError) || Date.now() > deadline) throw err;
      }
      // Polling interval over SSH: the board sends no event when it associates.
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  /** The AP's side of step 1: the board's MAC in its station list, with the handshake done. */
  async function authorizedOnAp(): Promise<string> {
    const stations = await ap.stations(cmd());
    if ('unavailable' in stations) return stations.unavailable;
    const sta = stations.find((s) => s.mac === mac);
    if (!sta?.flags.includes('AUTHORIZED'))
      throw new WifiCheckError(
        'association',
        sta
          ? `the access point lists ${mac} but not as authorized (flags ${sta.flags.join(',')}): the WPA2 handshake did not complete`
          : `the access point does not list ${mac} (stations: ${stations.map((s) => s.mac).join(', ') || 'none'})`,
      );
    return `${mac} [${sta.flags.join('][')}]`;
  }

  step(
    "1: the board joins the rig's access point: SSID and BSSID on the board, authorized in the AP's station list",
    [],
    async function () {
      const t = rig().type.timeouts;
      this.timeout(dhcpMs() + ((t.ssh ?? 60) + t.command * 6) * 1000);
      const { bssid } = await ap.ready({
        timeoutMs: ((t.ssh ?? 60) + t.command * 4) * 1000,
        signal: rig().signal,
      });
      e.bssid = bssid;
      mac = await boardMac(dut!, e);
      try {
        const [board, apSide] = await eventually(dhcpMs(), async () => [
          await checkAssociated(dut!, e),
          await authorizedOnAp(),
        ]);
        rig().attach(
          'association (board)',
          `${board.ssid} ${board.bssid ?? ''} via ${board.via} on ${e.iface}`,
        );
        rig().attach('association (access point)', apSide);
      } catch (err) {
        if (!(err instanceof WifiCheckError)) throw err;
        // Quote the AP's own account of this station: a wrong passphrase, a refused association.
        // Once each, the latest last: hostapd repeats itself at every retry.
        const said = [...new Set((await ap.events(mac, cmd()).catch(() => [])).reverse())].reverse();
        err.message += said.length
          ? `; hostapd: ${said.slice(-6).join(' | ')}`
          : '; hostapd: nothing about it';
        throw err;
      }
    },
  );

  step("2: it gets an address on the AP's subnet by DHCP over WiFi", ['1'], async function () {
    this.timeout(dhcpMs() + rig().type.timeouts.command * 3000);
    address = await eventually(dhcpMs(), () => checkAddress(dut!, e));
    const leases = await ap.leases(cmd());
    if ('unavailable' in leases) {
      rig().attach(`${e.iface} address`, `${address} (${leases.unavailable})`);
      return;
    }
    const lease = leases.find((l) => l.mac === mac);
    if (lease?.address !== address)
      throw new WifiCheckError(
        'address',
        `${e.iface} has ${address}, but the AP's DHCP server leased ${lease ? lease.address : 'nothing'} to ${mac}`,
      );
    rig().attach(
      `${e.iface} address`,
      `${address}, leased to ${mac}${lease.hostname ? ` (${lease.hostname})` : ''}`,
    );
  });

  step(
    '3: it reaches the rig through its WiFi interface only, and the rig reaches it',
    ['1', '2'],
    async function () {
      this.timeout(rig().type.timeouts.command * 4000);
      await checkReachesRig(dut!, e);
      const ping = await ap.ping(address!, cmd());
      if (ping.code !== 0)
        throw new WifiCheckError(
          'route',
          `the rig does not reach ${address} from the access point's side: ${(ping.stdout + ping.stderr).trim().replace(/\n\s*/g, ' | ')}`,
        );
    },
  );

  step('4: a transfer over WiFi, recorded as wifiThroughputMBps', ['1', '2', '3'], async function () {
    this.timeout(rig().type.timeouts.command * 4000);
    const bytes = 2 * 1024 * 1024;
    const served = await ap.serve(bytes, cmd());
    try {
      const r = await checkTransfer(dut!, served.url, bytes, e);
      if (!r) skipBecause(this, 'the board has neither wget nor curl to fetch over HTTP');
      const mbps = bytes / 1048576 / r.seconds;
      rig().attach('transfer', `2 MiB from ${served.url} in ${r.seconds.toFixed(2)} s with ${r.client}`);
      rig().metric('wifiThroughputMBps', Number(mbps.toFixed(3)));
    } finally {
      await served.close();
    }
  });
});
