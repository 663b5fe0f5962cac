import { InfraError, rig, skipBecause, type Dut } from '../fixture.js';
import { checkAddress, checkAssociated, checkReachesRig, type WifiExpectation } from './wifi-checks.js';

/**
 * The WiFi suite: the board joins the rig's access point (hostapd, WPA2-PSK, credentials made for
 * this run and written into the image before flashing), gets an address on the AP's subnet, and
 * reaches the rig through wlan0 only. A board without a radio is skipped with its capabilities
 * as the reason: the suite never passes without having checked anything.
 */
describe('wifi', function () {
  let dut: Dut | undefined;
  let expectation: WifiExpectation;
  /** Why the suite cannot run here; each test skips with it (a skip in a hook loses its reason). */
  let unavailable: string | undefined;

  before(async function () {
    const { type, boardName, boot, network, wifi } = rig();
    if (!type.capabilities.includes('wifi')) {
      unavailable = `${boardName} has no WiFi radio (${type.name} capabilities: ${type.capabilities.join(', ')})`;
      return;
    }
    if (!wifi)
      throw new InfraError(
        `${boardName} has a radio but the run set no access point up: the lab file must name the rig's WiFi AP interface for it`,
        { board: boardName },
      );
    if (!network)
      throw new InfraError(`${boardName}: the WiFi checks run over SSH, and the run set no network up`, {
        board: boardName,
      });
    if (boot.failure) {
      unavailable = `not reached: the boot failed before: ${boot.failure.message}`;
      return;
    }
    const t = type.timeouts;
    this.timeout((t.bootloader + t.kernel + t.userspace + t.login + (t.ssh ?? 60)) * 1000);
    await boot.reach('shell', rig().signal);
    dut = await network.connect({ timeoutMs: (t.ssh ?? 60) * 1000, signal: rig().signal });
    expectation = { ...wifi, timeoutMs: t.command * 1000, signal: rig().signal };
  });

  after(async () => {
    await dut?.close();
  });

  /** Association and DHCP over the air take a while after boot: ask again until the timeout. */
  async function eventually<T>(timeoutMs: number, check: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await check();
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      // Polling interval over SSH: the board sends no event when it associates.
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  it('associates with the rig access point (iw dev wlan0 link)', async function () {
    if (unavailable) skipBecause(this, unavailable);
    const timeoutMs = (rig().type.timeouts.dhcp ?? 60) * 1000;
    this.timeout(timeoutMs + 30_000);
    const r = await eventually(timeoutMs, () => checkAssociated(dut!, expectation));
    rig().attach('association', `${r.ssid} via ${r.via}${r.bssid ? ` (${r.bssid})` : ''}`);
  });

  it('gets an address on the WiFi subnet', async function () {
    if (unavailable) skipBecause(this, unavailable);
    const timeoutMs = (rig().type.timeouts.dhcp ?? 60) * 1000;
    this.timeout(timeoutMs + 30_000);
    const address = await eventually(timeoutMs, () => checkAddress(dut!, expectation));
    rig().attach('wlan0 address', address);
  });

  it('reaches the rig through wlan0 only', async function () {
    if (unavailable) skipBecause(this, unavailable);
    this.timeout(rig().type.timeouts.command * 3000);
    await checkReachesRig(dut!, expectation);
  });
});
