import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dnsmasqConf, parseLeases } from '../../rig/net/dnsmasq.js';
import { labDnsmasqConfig, validateLabNetwork } from '../../rig/net/lab-network.js';
import { quoteAnswers } from '../../rig/net/mdns.js';
import { generateRunKey } from '../../rig/net/ssh-key.js';
import { freeIndexes, overlaps, planSubnet } from '../../rig/net/subnet.js';
import { createVirtualNetwork, macFor, modeFromEnv } from '../../rig/net/virtual-network.js';

function dnsmasqAccepts(conf: string): { ok: boolean; out: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'hwt-dnsmasq-'));
  try {
    writeFileSync(path.join(dir, 'c.conf'), conf);
    const r = spawnSync('dnsmasq', ['--test', `--conf-file=${path.join(dir, 'c.conf')}`], {
      encoding: 'utf8',
    });
    return { ok: r.status === 0 && /syntax check OK/.test(r.stderr + r.stdout), out: r.stderr + r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('network configuration', () => {
  const plan = planSubnet('10.213', 7);
  const conf = dnsmasqConf({
    interface: 'br0',
    address: plan.gateway,
    dhcpFirst: plan.dhcpFirst,
    dhcpLast: plan.dhcpLast,
    netmask: plan.netmask,
    leaseFile: '/run/hw-test/net/hwt-abc123/dnsmasq.leases',
    domain: 'hwtest',
    hosts: [{ name: 'rig.hwtest', address: plan.rig }],
  });

  it('plans a /24 per board: gateway .1, rig .2, leases .100-.199', () => {
    expect(plan).to.deep.include({
      cidr: '10.213.7.0/24',
      gateway: '10.213.7.1',
      rig: '10.213.7.2',
      dhcpFirst: '10.213.7.100',
      dhcpLast: '10.213.7.199',
    });
  });

  it('writes a dnsmasq configuration that serves DHCP and DNS on the bridge only, with no upstream', () => {
    const lines = conf.split('\n');
    for (const l of [
      'interface=br0',
      'bind-interfaces',
      'no-resolv',
      'dhcp-range=10.213.7.100,10.213.7.199,255.255.255.0,12h',
      'dhcp-option=option:router,10.213.7.1',
      'dhcp-option=option:dns-server,10.213.7.1',
      'host-record=rig.hwtest,10.213.7.2',
      'local=/hwtest/',
      'dhcp-leasefile=/run/hw-test/net/hwt-abc123/dnsmasq.leases',
    ]) {
      expect(lines, l).to.include(l);
    }
    expect(lines.filter((l) => l.startsWith('server='))).to.deep.equal([]);
  });

  it('is accepted by dnsmasq --test, which rejects a broken one', function () {
    if (spawnSync('sh', ['-c', 'command -v dnsmasq']).status !== 0) return this.skip();
    expect(dnsmasqAccepts(conf).ok, dnsmasqAccepts(conf).out).to.equal(true);
    expect(dnsmasqAccepts(conf.replace('dhcp-range=10.213.7.100', 'dhcp-range=10.213.7.999')).ok).to.equal(
      false,
    );
  });

  it('parses dnsmasq lease files', () => {
    const text =
      '1764054000 52:54:00:ab:cd:ef 10.213.7.142 hwt-1a2b3c 01:52:54:00:ab:cd:ef\n1764054001 52:54:00:00:00:01 10.213.7.150 * *\n';
    expect(parseLeases(text)).to.deep.equal([
      { expires: 1764054000, mac: '52:54:00:ab:cd:ef', address: '10.213.7.142', hostname: 'hwt-1a2b3c' },
      { expires: 1764054001, mac: '52:54:00:00:00:01', address: '10.213.7.150', hostname: undefined },
    ]);
    expect(parseLeases('')).to.deep.equal([]);
  });

  it('chooses subnets that collide with no host address, route or other run', () => {
    expect(overlaps('10.213.0.0/16', '10.213.5.0/24')).to.equal(true);
    expect(overlaps('10.213.4.0/24', '10.213.5.0/24')).to.equal(false);
    const free = freeIndexes(
      '10.213',
      ['10.213.1.2/24', '10.213.3.0/24', 'default', '172.17.0.1/16'],
      new Set([2]),
    );
    expect(free.slice(0, 3)).to.deep.equal([4, 5, 6]);
    expect(freeIndexes('10.213', ['10.0.0.0/8'], new Set())).to.deep.equal([]);
  });

  it('takes the network kind from HW_TEST_NET, refusing anything else by name', () => {
    expect(modeFromEnv({})).to.equal('auto');
    expect(modeFromEnv({ HW_TEST_NET: 'user' })).to.equal('user');
    expect(() => modeFromEnv({ HW_TEST_NET: 'tap' })).to.throw(
      'HW_TEST_NET=tap: expected auto, netns or user',
    );
  });

  it('makes a locally administered QEMU MAC from the network id', () => {
    expect(macFor('a1b2c3')).to.equal('52:54:00:a1:b2:c3');
  });

  it('quotes the mDNS answers seen, or says there were none', () => {
    expect(quoteAnswers([])).to.equal('no mDNS answer at all');
    expect(
      quoteAnswers([{ from: '10.213.7.142', name: 'other.local', type: 'A', data: '10.213.7.142' }]),
    ).to.equal('answers seen: 10.213.7.142: other.local A 10.213.7.142');
  });

  it('falls back to user-mode networking with an SSH port forward, and says why mDNS is skipped', async () => {
    const net = await createVirtualNetwork({
      board: 'u',
      nicModel: 'virtio-net-pci',
      sshKey: generateRunKey(),
      mode: 'user',
    });
    expect(net.kind).to.equal('user');
    expect(net.wrapper).to.deep.equal([]);
    expect(net.qemuNetArgs[1]).to.match(/^user,id=net0,hostfwd=tcp:127\.0\.0\.1:\d+-:22$/);
    expect(net.qemuNetArgs[3]).to.equal(`virtio-net-pci,netdev=net0,mac=${net.mac}`);
    expect(net.mdnsUnavailable).to.match(
      /user-mode networking \(user-mode networking requested\): slirp carries no multicast/,
    );
    expect(await net.leases()).to.equal(undefined);
    const err = await net.resolveMdns('x', { timeoutMs: 100 }).catch((e: Error) => e);
    expect((err as Error).message).to.equal(net.mdnsUnavailable);
    await net.teardown();
  });

  describe('lab network (real boards)', () => {
    it('serves the lab file subnet on the lab interface, the rig at .1', () => {
      const c = labDnsmasqConfig(
        { interface: 'enx00e04c680001', dhcp: 'rig', subnet: '192.168.77.0/24' },
        '/run/hw-test/lab/odroid-xu4-1',
      );
      expect(c).to.deep.include({
        rig: '192.168.77.1',
        interface: 'enx00e04c680001',
        dhcpFirst: '192.168.77.100',
        dhcpLast: '192.168.77.199',
        leaseFile: '/run/hw-test/lab/odroid-xu4-1/dnsmasq.leases',
      });
      const text = dnsmasqConf(c);
      expect(text)
        .to.include('interface=enx00e04c680001\n')
        .and.include('dhcp-option=option:router,192.168.77.1\n');
      if (spawnSync('sh', ['-c', 'command -v dnsmasq']).status === 0)
        expect(dnsmasqAccepts(text).ok).to.equal(true);
    });

    it('refuses a wrong network block with one line naming the field', () => {
      expect(() => validateLabNetwork({ interface: 'eth0', dhcp: 'rig' }, 'lab.yaml: odroid-xu4-1')).to.throw(
        /^lab\.yaml: odroid-xu4-1: network\.subnet must be a \/24/,
      );
      expect(() => validateLabNetwork({ interface: 'eth0', dhcp: 'both' as 'rig' }, 'x')).to.throw(
        /network\.dhcp must be "rig" or "lab", not "both"/,
      );
      expect(() => validateLabNetwork({ interface: 'a very long name!', dhcp: 'lab' }, 'x')).to.throw(
        /network\.interface .* is not an interface name/,
      );
      expect(() => validateLabNetwork({ interface: 'eth1', dhcp: 'lab' }, 'x')).to.not.throw();
    });
  });
});
