import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLabNetwork, type LabNetwork } from '../../rig/net/lab-network.js';
import { generateRunKey } from '../../rig/net/ssh-key.js';
import { netnsMissing, sh, startResponder, trySh, udhcpc } from './net-helpers.js';

/**
 * A real board's Ethernet, stood in for by a veth: the "lab interface" in the host namespace, the
 * "board" (busybox udhcpc, avahi-daemon) in a namespace of its own at the other end.
 */
describe('lab network on a rig interface (veth stand-in)', function () {
  this.timeout(60_000);
  const missing = netnsMissing();
  const tag = Math.random().toString(16).slice(2, 8);
  const iface = `hwt-lab${tag.slice(0, 4)}`;
  const boardNs = `hwt-labb${tag.slice(0, 4)}`;
  let net: LabNetwork | undefined;
  let dir: string;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(function () {
    if (missing) this.skip();
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hwt-lab-'));
    sh('ip', ['netns', 'add', boardNs]);
    sh('ip', ['link', 'add', iface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', boardNs]);
    sh('ip', ['link', 'set', iface, 'up']);
    sh('ip', ['-n', boardNs, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', boardNs, 'link', 'set', 'lo', 'up']);
  });
  afterEach(async () => {
    // Every cleanup runs, even when one of them fails.
    for (const c of cleanups.splice(0).reverse())
      await Promise.resolve()
        .then(c)
        .catch(() => {});
    await net?.teardown();
    net = undefined;
    trySh('ip', ['link', 'del', iface]);
    trySh('ip', ['netns', 'del', boardNs]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('dhcp: rig — serves the board a lease on the lab interface and finds it by hostname and mDNS', async () => {
    net = await createLabNetwork({
      board: 'odroid-xu4-1',
      config: { interface: iface, dhcp: 'rig', subnet: '10.217.9.0/24' },
      hostname: 'labboard',
      sshKey: generateRunKey(),
      dir: path.join(dir, 'net'),
    });
    expect(sh('ip', ['-4', '-o', 'addr', 'show', 'dev', iface])).to.include('10.217.9.1/24');
    const got = udhcpc(boardNs, 'labboard');
    expect(got.dns).to.equal('10.217.9.1');
    const lease = await net.waitForLease!({ timeoutMs: 10_000 });
    expect(lease).to.include({ address: got.ip, hostname: 'labboard' });
    const avahi = await startResponder(boardNs, 'labboard');
    cleanups.push(() => avahi.stop());
    expect(await net.resolveMdns('labboard', { timeoutMs: 10_000 })).to.equal(got.ip);
    await avahi.stop();
    await net.teardown();
    net = undefined;
    expect(sh('ip', ['-4', '-o', 'addr', 'show', 'dev', iface])).to.not.include('10.217.9.1');
  });

  it("dhcp: lab — runs no DHCP server and finds the board over mDNS on the interface's address", async () => {
    sh('ip', ['addr', 'add', '10.217.10.1/24', 'dev', iface]);
    sh('ip', ['-n', boardNs, 'addr', 'add', '10.217.10.50/24', 'dev', 'eth0']);
    net = await createLabNetwork({
      board: 'rpi3-1',
      config: { interface: iface, dhcp: 'lab' },
      hostname: 'labboard2',
      sshKey: generateRunKey(),
      dir: path.join(dir, 'net'),
    });
    expect(await net.leases()).to.equal(undefined);
    expect(net.waitForLease).to.equal(undefined);
    const avahi = await startResponder(boardNs, 'labboard2');
    cleanups.push(() => avahi.stop());
    expect(await net.resolveMdns('labboard2', { timeoutMs: 10_000 })).to.equal('10.217.10.50');
  });

  it('dhcp: lab — an interface without an address is a rig fault, named', async () => {
    const err = await createLabNetwork({
      board: 'rpi3-1',
      config: { interface: iface, dhcp: 'lab' },
      hostname: 'x',
      sshKey: generateRunKey(),
      dir,
    }).catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      `${iface} has no IPv4 address: the lab's DHCP or the host's network settings must give it one`,
    );
  });
});
