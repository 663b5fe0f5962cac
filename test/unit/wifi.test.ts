import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../rig/catalog/schema.js';
import { mask } from '../../rig/log.js';
import { InfraError } from '../../rig/errors.js';
import {
  generateWifiCredentials,
  hostapdConf,
  startWifiAp,
  validateWifiCredentials,
  wifiApFiles,
} from '../../rig/net/hostapd.js';
import { planSubnet } from '../../rig/net/subnet.js';
import { FakeSpawner } from '../../rig/sim/spawner.js';
import type { Spawner } from '../../rig/util/spawn.js';
import {
  startReplaySshServer,
  type ReplayReply,
  type ReplaySshServer,
} from '../../rig/sim/ssh-replay-server.js';
import { RunHostKeys, sshConnect, type SshDut } from '../../rig/net/ssh.js';
import { generateRunKey } from '../../rig/net/ssh-key.js';
import { checkWifi, WifiCheckError } from '../../suites/wifi/wifi-checks.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'wifi');
const expectation = { ssid: 'hwt-rpi3-5f2a0c', subnet: '10.214.87.0/24', rigAddress: '10.214.87.1' };

function replies(name: string): Record<string, ReplayReply> {
  return JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, ReplayReply>;
}

describe('WiFi board-side checks, against an ssh2 server replaying iw/wpa_cli/ip output', function () {
  this.timeout(15_000);
  let server: ReplaySshServer | undefined;
  let dut: SshDut | undefined;

  async function board(name: string): Promise<SshDut> {
    const key = generateRunKey();
    const table = replies(name);
    server = await startReplaySshServer({ authorizedKey: key.publicKey, reply: (cmd) => table[cmd] });
    dut = await sshConnect(
      { host: '127.0.0.1', port: server.port, username: 'root', key, hostKeys: new RunHostKeys() },
      { timeoutMs: 5000 },
    );
    return dut;
  }
  afterEach(async () => {
    await dut?.close();
    await server?.close();
    dut = server = undefined;
  });

  it('passes on an associated board, with its address on the WiFi subnet', async () => {
    const r = await checkWifi(await board('associated'), expectation);
    expect(r).to.deep.equal({ ssid: 'hwt-rpi3-5f2a0c', address: '10.214.87.142', via: 'iw' });
    expect(server!.commands).to.deep.equal([
      'iw dev wlan0 link',
      'ip -4 -o addr show dev wlan0',
      'ip route get 10.214.87.1',
      'ping -c 1 -W 3 -I wlan0 10.214.87.1',
    ]);
  });

  it('fails on a board that is not associated, quoting iw', async () => {
    const err = await checkWifi(await board('not-associated'), expectation).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(WifiCheckError);
    expect((err as WifiCheckError).step).to.equal('association');
    expect((err as Error).message).to.equal(
      'wlan0 is not associated: `iw dev wlan0 link` (exit 0): Not connected.',
    );
  });

  it('fails on the wrong network, naming both SSIDs', async () => {
    const err = await checkWifi(await board('wrong-ssid'), expectation).catch((e: unknown) => e);
    expect((err as Error).message).to.match(
      /associated with "Office-Guest", not the rig's "hwt-rpi3-5f2a0c"/,
    );
  });

  it('uses wpa_cli on an OS without iw', async () => {
    const r = await checkWifi(await board('no-iw'), expectation);
    expect(r.via).to.equal('wpa_cli');
    expect(server!.commands).to.include('wpa_cli -i wlan0 status');
  });

  it('fails the address and route steps with what ip printed', async () => {
    const table = {
      ...replies('associated'),
      ...pick(replies('not-associated'), 'ip -4 -o addr show dev wlan0'),
    };
    const key = generateRunKey();
    server = await startReplaySshServer({ authorizedKey: key.publicKey, reply: (cmd) => table[cmd] });
    dut = await sshConnect(
      { host: '127.0.0.1', port: server.port, username: 'root', key, hostKeys: new RunHostKeys() },
      { timeoutMs: 5000 },
    );
    const noAddr = await failure(checkWifi(dut, expectation));
    expect(noAddr.step).to.equal('address');
    expect(noAddr.message).to.match(/no address on the WiFi subnet 10\.214\.87\.0\/24 \(none\)/);

    const viaEth = {
      ...replies('associated'),
      ...pick(replies('not-associated'), 'ip route get 10.214.87.1'),
    };
    Object.assign(table, viaEth);
    const routed = await failure(checkWifi(dut, expectation));
    expect(routed.step).to.equal('route');
    expect(routed.message).to.match(/not routed through wlan0 but through eth0/);

    Object.assign(
      table,
      replies('associated'),
      pick(replies('not-associated'), 'ping -c 1 -W 3 -I wlan0 10.214.87.1'),
    );
    const silent = await failure(checkWifi(dut, expectation));
    expect(silent.message).to.match(/does not answer through wlan0: .*Network is unreachable/);
  });
});

async function failure(p: Promise<unknown>): Promise<WifiCheckError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the check should have failed').to.be.instanceOf(WifiCheckError);
  return err as WifiCheckError;
}

function pick(t: Record<string, ReplayReply>, cmd: string): Record<string, ReplayReply> {
  return { [cmd]: t[cmd] };
}

describe('WiFi access point configuration', () => {
  const creds = { ssid: 'hwt-rpi3-5f2a0c', passphrase: 'Zq3-vT9_pL2xR8mK4wN6' };

  it('writes a WPA2-PSK CCMP hostapd.conf for the lab file interface', () => {
    const conf = hostapdConf({
      ...creds,
      interface: 'wlx00c0ca9a1b2c',
      ctrlDir: '/run/hw-test/x/hostapd',
      countryCode: 'DE',
    });
    const kv: Record<string, string> = Object.fromEntries(
      conf
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(kv).to.include({
      interface: 'wlx00c0ca9a1b2c',
      driver: 'nl80211',
      ssid: creds.ssid,
      wpa: '2',
      wpa_key_mgmt: 'WPA-PSK',
      rsn_pairwise: 'CCMP',
      wpa_passphrase: creds.passphrase,
      country_code: 'DE',
      hw_mode: 'g',
    });
  });

  it('is accepted by hostapd itself (it fails only at the missing radio, after parsing)', function () {
    if (spawnSync('sh', ['-c', 'command -v hostapd']).status !== 0) return this.skip();
    const dir = mkdtempSync(path.join(tmpdir(), 'hwt-hostapd-'));
    try {
      const good = path.join(dir, 'good.conf');
      writeFileSync(
        good,
        hostapdConf({ ...creds, interface: 'hwtnoradio0', ctrlDir: path.join(dir, 'ctrl') }),
      );
      const ok = spawnSync('hostapd', [good], { encoding: 'utf8', timeout: 10_000 });
      expect(ok.stdout + ok.stderr).to.not.match(/errors? found in configuration file|Line \d+:/);
      expect(ok.stdout + ok.stderr).to.match(/nl80211|Could not read interface|hwtnoradio0/);
      // The check can fail: a broken file is reported by hostapd's parser.
      const bad = path.join(dir, 'bad.conf');
      writeFileSync(
        bad,
        hostapdConf({ ...creds, interface: 'hwtnoradio0', ctrlDir: path.join(dir, 'ctrl') }).replace(
          'hw_mode=g',
          'hw_mode=q',
        ),
      );
      const ko = spawnSync('hostapd', [bad], { encoding: 'utf8', timeout: 10_000 });
      expect(ko.stdout + ko.stderr).to.match(/Line \d+: unknown hw_mode 'q'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves the WiFi subnet with dnsmasq, without a default route over WiFi, and dnsmasq accepts it', function () {
    const dir = mkdtempSync(path.join(tmpdir(), 'hwt-wifi-'));
    try {
      const f = wifiApFiles({
        interface: 'wlan1',
        credentials: creds,
        subnet: planSubnet('10.214', 87),
        dir,
      });
      expect(f.dnsmasq)
        .to.include('interface=wlan1\n')
        .and.include('dhcp-range=10.214.87.100,10.214.87.199,255.255.255.0,12h\n');
      expect(f.dnsmasq)
        .to.include('dhcp-option=option:router\n')
        .and.include('host-record=rig.hwtest,10.214.87.1\n');
      expect(f.hostapd).to.include(`wpa_passphrase=${creds.passphrase}`);
      const conf = path.join(dir, 'd.conf');
      writeFileSync(conf, f.dnsmasq);
      const r = spawnSync('dnsmasq', ['--test', `--conf-file=${conf}`], { encoding: 'utf8' });
      expect(r.stderr + r.stdout).to.match(/syntax check OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('generates a fresh SSID and passphrase per run, the passphrase masked everywhere', () => {
    const a = generateWifiCredentials('raspberrypi3');
    const b = generateWifiCredentials('raspberrypi3');
    expect(a.ssid)
      .to.match(/^hwt-raspberrypi3-[0-9a-f]{6}$/)
      .and.not.equal(b.ssid);
    expect(a.passphrase).to.have.length.within(8, 63).and.not.equal(b.passphrase);
    expect(() => validateWifiCredentials(a)).to.not.throw();
    expect(mask(`psk="${a.passphrase}"`)).to.equal('psk="********"');
  });

  it('refuses credentials hostapd or wpa_supplicant would reject, naming the field', () => {
    expect(() => validateWifiCredentials({ ssid: 'x'.repeat(33), passphrase: 'longenough' })).to.throw(
      /SSID must be 1 to 32 bytes/,
    );
    expect(() => validateWifiCredentials({ ssid: 'ok', passphrase: 'short' })).to.throw(
      /passphrase must be 8 to 63/,
    );
    expect(() => validateWifiCredentials({ ssid: 'a"b', passphrase: 'longenough' })).to.throw(
      /without quotes/,
    );
  });
});

/** A spawner whose long-running tools print recorded lines; `ip` answers through the replay. */
function scriptedSpawner(outputs: Record<string, { lines: string[]; exitCode?: number }>): {
  spawner: Spawner;
  calls: string[];
} {
  const replay = new FakeSpawner({ replay: [{ match: /^ip /, code: 0 }] });
  const spawner: Spawner = {
    run: (cmd, args, opts) => replay.run(cmd, args, opts),
    start(cmd, args) {
      const h = replay.start(cmd, args);
      const script = outputs[cmd] ?? { lines: [] };
      setImmediate(() => {
        for (const l of script.lines) (h.stdout as PassThrough).write(`${l}\n`);
        if (script.exitCode !== undefined) h.kill('SIGTERM');
      });
      return h;
    },
  };
  return { spawner, calls: replay.calls };
}

describe('WiFi access point start-up (hostapd and dnsmasq, replayed)', () => {
  const creds = { ssid: 'hwt-rpi3-5f2a0c', passphrase: 'Zq3-vT9_pL2xR8mK4wN6' };
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hwt-ap-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('addresses the AP interface, waits for AP-ENABLED, then starts dnsmasq; stop undoes it', async () => {
    const { spawner, calls } = scriptedSpawner({
      hostapd: { lines: ['wlan1: interface state UNINITIALIZED->ENABLED', 'wlan1: AP-ENABLED '] },
      dnsmasq: {
        lines: [
          'dnsmasq: started, version 2.90 cachesize 150',
          'dnsmasq-dhcp: DHCP, IP range 10.214.87.100 -- 10.214.87.199, lease time 12h',
        ],
      },
    });
    const logDir = path.join(dir, 'report', 'wifi');
    const ap = await startWifiAp({
      board: 'raspberrypi3',
      interface: 'wlan1',
      credentials: creds,
      subnet: planSubnet('10.214', 87),
      logDir,
      tmpDir: dir,
      spawner,
    });
    expect(ap.rigAddress).to.equal('10.214.87.1');
    expect(ap.subnet).to.equal('10.214.87.0/24');
    // hostapd.conf holds the passphrase: a private folder of its own, never the report's.
    const [priv] = readdirSync(dir).filter((d) => d.startsWith('hw-test-ap-'));
    const conf = path.join(dir, priv, 'hostapd.conf');
    expect(calls.slice(0, 4)).to.deep.equal([
      'ip addr replace 10.214.87.1/24 dev wlan1',
      'ip link set wlan1 up',
      `hostapd ${conf}`,
      `dnsmasq --keep-in-foreground --log-facility=- --conf-file=${path.join(dir, priv, 'dnsmasq.conf')}`,
    ]);
    expect((statSync(conf).mode & 0o777).toString(8)).to.equal('600');
    expect((statSync(path.join(dir, priv)).mode & 0o777).toString(8)).to.equal('700');
    await ap.stop();
    expect(calls.at(-1)).to.equal('ip addr del 10.214.87.1/24 dev wlan1');
    expect(existsSync(path.join(dir, priv)), 'the private folder is gone at stop').to.equal(false);
    expect(readdirSync(logDir).sort()).to.deep.equal(['dnsmasq.log', 'hostapd.log']);
    for (const f of readdirSync(logDir))
      expect(readFileSync(path.join(logDir, f), 'utf8')).to.not.include(creds.passphrase);
    expect(readFileSync(path.join(logDir, 'hostapd.log'), 'utf8')).to.include('AP-ENABLED');
  });

  it('fails as a rig fault quoting hostapd when it exits before AP-ENABLED', async () => {
    const { spawner } = scriptedSpawner({
      hostapd: {
        lines: [
          'nl80211: Could not configure driver mode',
          'nl80211 driver initialization failed.',
          'wlan1: AP-DISABLED ',
        ],
        exitCode: 1,
      },
    });
    const err = await startWifiAp({
      board: 'raspberrypi3',
      interface: 'wlan1',
      credentials: creds,
      subnet: planSubnet('10.214', 87),
      logDir: path.join(dir, 'log'),
      tmpDir: dir,
      spawner,
    }).catch((e: Error) => e);
    expect(err).to.be.instanceOf(InfraError);
    expect((err as Error).message).to.match(
      /^hostapd on wlan1 exited .*nl80211 driver initialization failed\. \| wlan1: AP-DISABLED/,
    );
    // A failed start leaves no passphrase behind either.
    expect(readdirSync(dir).filter((d) => d.startsWith('hw-test-ap-'))).to.deep.equal([]);
  });
});
