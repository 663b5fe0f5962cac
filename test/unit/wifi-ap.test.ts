import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../rig/catalog/board.js';
import type { LabInstance } from '../../rig/catalog/lab.js';
import { ROOT } from '../../rig/catalog/schema.js';
import { FailError, InfraError, InputError } from '../../rig/errors.js';
import { mask } from '../../rig/log.js';
import { hostapdConf } from '../../rig/net/hostapd.js';
import { planGivenSubnet, planSubnet } from '../../rig/net/subnet.js';
import { VirtualAccessPoint } from '../../rig/net/virtual-ap.js';
import type { Dut } from '../../suites/fixture.js';
import { parseDumpleases, parseInterfaceModes, parseStations, stationEvents } from '../../rig/net/wifi-ap.js';
import { runChecks } from '../../rig/lab/doctor-checks.js';
import { wifiChecks } from '../../rig/lab/doctor-wifi.js';
import { loadSuites, suiteNeeds } from '../../rig/catalog/suites.js';
import type { ResolvedBoard } from '../../rig/runner/board-factory.js';
import { planWifi } from '../../rig/runner/wifi-ap.js';
import { FakeSpawner } from '../../rig/sim/spawner.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'wifi');

/** Real output, recorded on a virtual board (hostapd 2.10, iw 5.19, busybox 1.35; README.md). */
function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

describe("WiFi access point's own view, parsed from the tools' real output", () => {
  it('reads the station table: authorized once the WPA2 handshake completed, not before', () => {
    expect(parseStations(fixture('hostapd_cli-all_sta.txt'))).to.deep.equal([
      { mac: '02:00:00:00:00:00', flags: ['AUTH', 'ASSOC', 'AUTHORIZED', 'SHORT_PREAMBLE', 'WMM', 'HT'] },
    ]);
    // Associated with a wrong passphrase: listed during the handshake, never authorized.
    const [sta] = parseStations(fixture('hostapd_cli-all_sta-handshake.txt'));
    expect(sta.flags).to.include('ASSOC').and.not.include('AUTHORIZED');
    expect(parseStations('')).to.deep.equal([]);
  });

  it("finds hostapd's reason about one station: a passphrase mismatch", () => {
    const said = stationEvents(fixture('hostapd-psk-mismatch.log'), '02:00:00:00:00:00');
    expect(said.some((l) => /AP-STA-POSSIBLE-PSK-MISMATCH 02:00:00:00:00:00/.test(l))).to.equal(true);
    expect(said.every((l) => l.includes('02:00:00:00:00:00'))).to.equal(true);
    expect(stationEvents(fixture('hostapd-psk-mismatch.log'), '02:00:00:00:09:00')).to.deep.equal([]);
  });

  it("reads the DHCP server's leases by column, an empty host name included", () => {
    const text = fixture('dumpleases.txt');
    expect(parseDumpleases(text)).to.deep.equal([
      { mac: '02:00:00:00:00:00', address: '10.214.9.148', hostname: 'wifitest' },
    ]);
    const anonymous = text.replace('wifitest', '        ');
    expect(parseDumpleases(anonymous)).to.deep.equal([{ mac: '02:00:00:00:00:00', address: '10.214.9.148' }]);
    expect(parseDumpleases('dumpleases: short read\n')).to.deep.equal([]);
  });

  it('reads the interface modes of a radio from iw phy info, and only from that section', () => {
    const info = fixture('iw-phy-info-hwsim.txt');
    expect(parseInterfaceModes(info)).to.deep.equal([
      'IBSS',
      'managed',
      'AP',
      'AP/VLAN',
      'monitor',
      'mesh point',
      'P2P-client',
      'P2P-GO',
      'P2P-device',
      'outside context of a BSS',
    ]);
    // The same radio without the AP line in that section: "AP" elsewhere (frame types,
    // interface combinations) does not count.
    const noAp = info.replace(/(Supported interface modes:\n(?:.*\n)*?)\s*\* AP\n/, '$1');
    expect(noAp).to.match(/\* AP/);
    expect(parseInterfaceModes(noAp)).to.not.include('AP');
    expect(parseInterfaceModes('')).to.deep.equal([]);
  });

  it('writes 5 GHz as hw_mode=a on channel 36 unless told, with the regulatory domain', () => {
    const conf = hostapdConf({
      ssid: 'x-ap',
      passphrase: 'longenough',
      interface: 'wlan1',
      ctrlDir: '/run/x',
      band: '5GHz',
      countryCode: 'FR',
    });
    expect(conf).to.include('hw_mode=a\n').and.include('channel=36\n').and.include('country_code=FR\n');
    expect(hostapdConf({ ssid: 'x', passphrase: 'longenough', interface: 'w', ctrlDir: '/r', channel: 11 }))
      .to.include('hw_mode=g\n')
      .and.include('channel=11\n');
  });
});

describe('hw-test doctor: the board access point', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hwt-doctor-wifi-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function inst(wifi: LabInstance['wifi']): LabInstance {
    return {
      name: 'rpi3-1',
      file: 'lab.yaml',
      type: 'raspberrypi3',
      power: { driver: 'uhubctl', location: '1-1', port: 2 },
      serial: { device: '/dev/ttyUSB0' },
      wifi,
    };
  }

  /** A fake /sys/class/net with wlan1 -> phy0, like the kernel's. */
  function sysfs(): string {
    mkdirSync(path.join(dir, 'wlan1'), { recursive: true });
    symlinkSync('../../ieee80211/phy0', path.join(dir, 'wlan1', 'phy80211'));
    return dir;
  }

  it('passes a radio that supports AP mode, failing one that does not, naming its modes', async () => {
    const info = fixture('iw-phy-info-hwsim.txt');
    const ok = await runChecks(
      wifiChecks(inst({ apInterface: 'wlan1' }), {
        sysClassNet: sysfs(),
        spawner: new FakeSpawner({ replay: [{ match: 'iw phy phy0 info', stdout: info }] }),
      }),
      () => {},
    );
    expect(ok).to.deep.equal([
      { status: 'ok', kind: 'wifi', text: 'AP interface wlan1 exists (phy0) and supports AP mode' },
    ]);
    const noAp = info.replace(/(Supported interface modes:\n(?:.*\n)*?)\s*\* AP\n/, '$1');
    const [bad] = await runChecks(
      wifiChecks(inst({ apInterface: 'wlan1' }), {
        sysClassNet: dir,
        spawner: new FakeSpawner({ replay: [{ match: 'iw phy phy0 info', stdout: noAp }] }),
      }),
      () => {},
    );
    expect(bad.status).to.equal('FAIL');
    expect(bad.text).to.match(
      /^AP interface wlan1: phy0 cannot be an access point: its interface modes are IBSS, managed, AP\/VLAN/,
    );
  });

  it('fails an interface that does not exist, and a lab AP without its passphrase or address', async () => {
    const [gone] = await runChecks(
      wifiChecks(inst({ apInterface: 'wlx00c0ca' }), { sysClassNet: dir }),
      () => {},
    );
    expect(gone.text).to.match(/^AP interface wlx00c0ca: no such WiFi interface/);
    const lab = await runChecks(
      wifiChecks(inst({ ssid: 'lab-ap', subnet: '192.168.50.0/24', rigAddress: '192.168.50.2' }), {
        env: {},
        spawner: new FakeSpawner({
          replay: [
            {
              match: 'ip -o -4 addr show',
              stdout: '2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n',
            },
          ],
        }),
      }),
      () => {},
    );
    expect(lab.map((r) => r.status)).to.deep.equal(['FAIL', 'FAIL']);
    expect(lab[0].text).to.match(/HW_TEST_WIFI_PSK is not set/);
    expect(lab[1].text).to.match(/192\.168\.50\.2: is not an address of this host/);
  });

  it('checks the tools of the rig AP with the other tools', async () => {
    const { toolsFor } = await import('../../rig/lab/doctor-checks.js');
    const { wifiTools } = await import('../../rig/lab/doctor-wifi.js');
    const { loadBoard } = await import('../../rig/catalog/board.js');
    const rigAp = inst({ apInterface: 'wlan1' });
    const names = toolsFor(rigAp, loadBoard('raspberrypi3'), wifiTools(rigAp)).map((t) => t.name);
    expect(names).to.include.members(['hostapd', 'hostapd_cli', 'dnsmasq', 'iw']);
  });
});

describe("the run's WiFi plan: whose access point, and which credentials go into the image", () => {
  const virtualBoard: ResolvedBoard = { name: 'qemu-x86-64', type: loadBoard('qemu-x86-64') };
  const lab = (wifi?: LabInstance['wifi']): LabInstance => ({
    name: 'rpi3-1',
    file: 'lab.yaml',
    type: 'raspberrypi3',
    power: { driver: 'uhubctl', location: '1-1', port: 2 },
    serial: { device: '/dev/ttyUSB0' },
    wifi,
  });
  const realBoard = (wifi?: LabInstance['wifi']): ResolvedBoard => ({
    name: 'rpi3-1',
    type: loadBoard('raspberrypi3'),
    labFile: 'lab.yaml',
    wiring: { lab: { file: 'lab.yaml', boards: {} }, instance: lab(wifi) },
  });
  /** The plan as the run makes it: wanted when the selected suites' manifests ask for the AP. */
  async function plan(board: ResolvedBoard, suites: string[], env: NodeJS.ProcessEnv = {}) {
    const wanted = suiteNeeds(await loadSuites(suites), board.type).accessPoint;
    return planWifi({ board, wanted, env });
  }

  it('sets nothing up unless the wifi suite runs on a board with a radio', async () => {
    expect(await plan(virtualBoard, ['boot', 'network'])).to.equal(undefined);
    const noRadio = { name: 'odroid-xu4', type: loadBoard('odroid-xu4') };
    expect(await plan(noRadio, ['wifi'])).to.equal(undefined);
  });

  it("makes credentials for the run when the rig runs the AP (virtual board, or the lab's apInterface)", async () => {
    const v = (await plan(virtualBoard, ['wifi']))!;
    expect(v.credentials.ssid).to.match(/^hwt-qemu-x86-64-[0-9a-f]{6}$/);
    expect(mask(v.credentials.passphrase)).to.equal('********');
    const r = (await plan(realBoard({ apInterface: 'wlan1' }), ['wifi']))!;
    expect(r.spec?.apInterface).to.equal('wlan1');
  });

  it("takes the lab AP's SSID and HW_TEST_WIFI_PSK in fixed mode; a missing one is bad input naming the field", async () => {
    const fixed = realBoard({ ssid: 'lab-ap', subnet: '192.168.50.0/24', rigAddress: '192.168.50.2' });
    const p = (await plan(fixed, ['wifi'], { HW_TEST_WIFI_PSK: 'lab-secret-1' }))!;
    expect(p.credentials).to.deep.equal({ ssid: 'lab-ap', passphrase: 'lab-secret-1' });
    expect(mask('psk=lab-secret-1')).to.equal('psk=********');
    const err = await plan(fixed, ['wifi']).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(
      /^lab\.yaml: boards\.rpi3-1\.wifi\.ssid names the lab's own access point: set HW_TEST_WIFI_PSK to its passphrase$/,
    );
  });

  it('a real board with a radio and no access point in the lab file is bad input before flashing', async () => {
    const err = await plan(realBoard(), ['wifi']).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(
      /boards\.rpi3-1 has no wifi entry: joining an access point needs the rig's AP interface \(wifi\.apInterface\) or the lab's own AP \(wifi\.ssid\)/,
    );
  });

  it("plans a lab AP's subnet around the rig's address", () => {
    expect(planGivenSubnet('10.77.5.0/24', '10.77.5.1')).to.include({
      gateway: '10.77.5.1',
      dhcpFirst: '10.77.5.100',
      dhcpLast: '10.77.5.199',
      netmask: '255.255.255.0',
      prefix: 24,
    });
    expect(planGivenSubnet('192.168.9.16/28', '192.168.9.17')).to.include({
      dhcpFirst: '192.168.9.18',
      dhcpLast: '192.168.9.30',
      netmask: '255.255.255.240',
    });
  });
});

describe('the virtual access point, driven through a scripted board', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hwt-vap-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const creds = { ssid: 'hwt-qemu-x86-64-abc123', passphrase: 'Zq3-vT9_pL2xR8mK4wN6' };
  const radios =
    'board_phy=phy0\nboard_iface=wlan0\nboard_mac=02:00:00:00:00:00\nap_phy=phy1\nap_iface=wlan1\nap_mac=02:00:00:00:01:00\n';

  /** A board whose commands answer from a table (agent.sh subcommand -> reply); records what it got. */
  function board(replies: Record<string, { code?: number; stdout?: string; stderr?: string }>) {
    const got: { exec: string[]; put: { remote: string; content: string }[]; closed: boolean } = {
      exec: [],
      put: [],
      closed: false,
    };
    const dut: Dut = {
      address: '10.213.1.100',
      exec(cmd) {
        got.exec.push(cmd);
        const sub = /agent\.sh (\w+)/.exec(cmd)?.[1] ?? '';
        const r = replies[sub] ?? {};
        return Promise.resolve({ code: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' });
      },
      put(local, remote) {
        got.put.push({ remote, content: Buffer.isBuffer(local) ? local.toString() : `file:${local}` });
        return Promise.resolve();
      },
      close() {
        got.closed = true;
        return Promise.resolve();
      },
    };
    return { dut, got };
  }

  function ap(dut: Dut) {
    return new VirtualAccessPoint({
      board: 'qemu-x86-64',
      arch: 'x86_64',
      credentials: creds,
      subnet: planSubnet('10.214', 216),
      connect: () => Promise.resolve(dut),
      logDir: path.join(dir, 'wifi'),
      commandTimeoutMs: 5000,
      agent: () => Promise.resolve({ busybox: '/cache/busybox', tarball: '/cache/agent.tgz' }),
    });
  }

  it('plugs the radios, writes hostapd.conf privately, brings the AP up, and takes it down with its log', async () => {
    const { dut, got } = board({
      plug: { stdout: radios },
      up: { stdout: 'bssid=02:00:00:00:01:00\nap_iface=wlan1\n' },
      down: { stdout: `wlan1: AP-ENABLED\nwlan1: AP-STA-CONNECTED 02:00:00:00:00:00\n` },
    });
    const a = ap(dut);
    expect(await a.ready({ timeoutMs: 10_000 })).to.deep.equal({ bssid: '02:00:00:00:01:00' });
    expect(got.put.map((p) => p.remote)).to.deep.equal([
      '/tmp/hw-test-ap/busybox',
      '/tmp/hw-test-ap/agent.tgz',
      '/tmp/hw-test-ap/hostapd.conf',
    ]);
    const conf = got.put[2].content;
    expect(conf).to.include('interface=wlan1\n').and.include(`wpa_passphrase=${creds.passphrase}\n`);
    expect(conf).to.include('ctrl_interface=/tmp/hw-test-ap/run/hostapd\n');
    expect(got.exec).to.include('chmod 600 /tmp/hw-test-ap/hostapd.conf');
    expect(got.exec.find((c) => /agent\.sh up/.test(c))).to.match(
      /agent\.sh up 10\.214\.216\.1\/24 10\.214\.216\.100 10\.214\.216\.199 255\.255\.255\.0$/,
    );
    // No command line carries the passphrase: it travels only inside the file.
    expect(got.exec.filter((c) => c.includes(creds.passphrase))).to.deep.equal([]);
    await a.stop();
    await a.stop();
    expect(got.exec.filter((c) => /agent\.sh down/.test(c))).to.have.length(1);
    expect(got.closed).to.equal(true);
    expect(readFileSync(path.join(dir, 'wifi', 'hostapd.log'), 'utf8')).to.include('AP-STA-CONNECTED');
  });

  it("an image that cannot load the radio's driver is the image's fault; a hostapd that dies is the rig's", async () => {
    const noDriver = board({
      plug: {
        code: 3,
        stderr: "agent: the board cannot load the radio's driver: modprobe: module mac80211_hwsim not found",
      },
    });
    const e1 = await ap(noDriver.dut)
      .ready({ timeoutMs: 10_000 })
      .catch((e: unknown) => e);
    expect(e1).to.be.instanceOf(FailError);
    expect((e1 as Error).message).to.match(
      /^the image cannot drive the virtual board's radio: .*module mac80211_hwsim not found/,
    );
    const deadAp = board({
      plug: { stdout: radios },
      up: { code: 1, stderr: 'agent: hostapd exited: nl80211: kernel reports: key addition failed|' },
    });
    const e2 = await ap(deadAp.dut)
      .ready({ timeoutMs: 10_000 })
      .catch((e: unknown) => e);
    expect(e2).to.be.instanceOf(InfraError);
    expect((e2 as Error).message).to.match(
      /^virtual access point: agent\.sh up \(exit 1\): .*key addition failed/,
    );
  });
});
