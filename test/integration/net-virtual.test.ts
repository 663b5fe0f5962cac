import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createVirtualNetwork, type VirtualNetwork } from '../../rig/net/virtual-network.js';
import { generateRunKey } from '../../rig/net/ssh-key.js';
import { readRecords } from '../../rig/net/net-state.js';
import {
  attachClient,
  hostLinks,
  namespaces,
  netnsMissing,
  sh,
  startResponder,
  udhcpc,
} from './net-helpers.js';

describe('virtual network (namespace, bridge, tap, dnsmasq, veth)', function () {
  this.timeout(60_000);
  const missing = netnsMissing();
  let stateDir: string;
  let net: VirtualNetwork | undefined;
  const cleanups: (() => void | Promise<void>)[] = [];

  before(function () {
    if (missing) this.skip();
  });
  beforeEach(() => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'hwt-netstate-'));
  });
  afterEach(async () => {
    // Everything goes, even when a test failed half-way.
    // Every cleanup runs, even when one of them fails.
    for (const c of cleanups.splice(0).reverse())
      await Promise.resolve()
        .then(c)
        .catch(() => {});
    await net?.teardown();
    net = undefined;
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('serves a DHCP lease and DNS to a client on the bridge, resolves it over mDNS, and leaves nothing behind', async () => {
    const linksBefore = hostLinks();
    net = await createVirtualNetwork({
      board: 'itest',
      nicModel: 'virtio-net-pci',
      sshKey: generateRunKey(),
      stateDir,
      mode: 'netns',
    });
    expect(net.kind).to.equal('netns');
    expect(namespaces()).to.include(net.netns);
    expect(net.wrapper).to.deep.equal(['ip', 'netns', 'exec', net.netns]);
    expect(net.qemuNetArgs.join(' '))
      .to.match(/tap,id=net0,ifname=tap0/)
      .and.include(`mac=${net.mac}`);
    expect(sh('ip', ['-n', net.netns!, '-o', 'link', 'show', 'tap0'])).to.match(/master br0/);

    const client = `hwt-itc${process.pid % 1000}`;
    cleanups.push(attachClient(client, net.netns!, net.bridge!, net.mac));
    const got = udhcpc(client, 'itboard');
    expect(got.router).to.equal(net.gateway);
    expect(got.dns).to.equal(net.gateway);

    // The rig's side: dnsmasq's lease file names the client's MAC, address and hostname.
    const lease = await net.waitForLease!({ timeoutMs: 10_000 });
    expect(lease).to.include({ mac: net.mac, address: got.ip, hostname: 'itboard' });
    expect(await net.leases()).to.include(got.ip);

    // DNS through the DHCP-provided server: rig.hwtest is the rig's veth address.
    const ns = sh('ip', ['netns', 'exec', client, 'busybox', 'nslookup', net.rigName!.name, got.dns]);
    expect(ns).to.include(net.rigName!.address);
    sh('ip', ['netns', 'exec', client, 'busybox', 'ping', '-c', '1', '-W', '2', net.rigName!.address]);

    // mDNS across the bridge, from the rig's veth in the host namespace.
    const avahi = await startResponder(client, 'itboard');
    cleanups.push(() => avahi.stop());
    expect(await net.resolveMdns('itboard', { timeoutMs: 10_000 })).to.equal(got.ip);
    const ssh = await net.browseSsh({ timeoutMs: 10_000 });
    expect(ssh.map((s) => s.addresses).flat()).to.include(got.ip);

    const netns = net.netns!;
    await avahi.stop();
    await net.teardown();
    net = undefined;
    sh('ip', ['netns', 'del', client]);
    expect(namespaces()).to.not.include(netns);
    expect(hostLinks()).to.not.include(netns);
    expect(hostLinks().filter((l) => !linksBefore.includes(l))).to.deep.equal([]);
    expect(readRecords(stateDir)).to.deep.equal([]);
    expect(spawnSync('pgrep', ['-f', stateDir]).stdout.toString()).to.equal('');
  });

  it('fails the mDNS lookup quoting what was seen when no such host answers', async () => {
    net = await createVirtualNetwork({
      board: 'itest',
      nicModel: 'virtio-net-pci',
      sshKey: generateRunKey(),
      stateDir,
      mode: 'netns',
    });
    const client = `hwt-itd${process.pid % 1000}`;
    cleanups.push(attachClient(client, net.netns!, net.bridge!, net.mac));
    udhcpc(client, 'other');
    const avahi = await startResponder(client, 'other');
    cleanups.push(() => avahi.stop());
    const err = await net.resolveMdns('absent', { timeoutMs: 3000 }).catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(
      /absent\.local did not resolve over mDNS on 10\.\d+\.\d+\.2 in 3000 ms: (answers seen: |no mDNS answer at all)/,
    );
  });

  it('gives two boards two different subnets', async () => {
    net = await createVirtualNetwork({
      board: 'a',
      nicModel: 'e1000',
      sshKey: generateRunKey(),
      stateDir,
      mode: 'netns',
    });
    const other = await createVirtualNetwork({
      board: 'b',
      nicModel: 'e1000',
      sshKey: generateRunKey(),
      stateDir,
      mode: 'netns',
    });
    cleanups.push(() => other.teardown());
    expect(other.subnet!.cidr).to.not.equal(net.subnet!.cidr);
    expect(other.netns).to.not.equal(net.netns);
  });

  it('a controller that dies of an uncaught error still removes its network on exit', () => {
    const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../rig/net');
    const script = `
      const { createVirtualNetwork } = await import(${JSON.stringify(`${dist}/virtual-network.js`)});
      const { generateRunKey } = await import(${JSON.stringify(`${dist}/ssh-key.js`)});
      const net = await createVirtualNetwork({ board: 'crash', nicModel: 'e1000', sshKey: generateRunKey(), stateDir: ${JSON.stringify(stateDir)}, mode: 'netns' });
      console.log(net.netns);
      setImmediate(() => { throw new Error('controller bug'); });`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).to.include('controller bug');
    const ns = r.stdout.trim();
    expect(ns).to.match(/^hwt-[0-9a-f]{6}$/);
    expect(namespaces()).to.not.include(ns);
    expect(hostLinks()).to.not.include(ns);
    expect(readRecords(stateDir)).to.deep.equal([]);
    expect(spawnSync('pgrep', ['-f', stateDir]).stdout.toString()).to.equal('');
  });

  it('removes the namespace, link and processes of a crashed run, and only those', async () => {
    const id = `dead${Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0')}`;
    const name = `hwt-${id}`;
    const dir = path.join(stateDir, name);
    mkdirSync(dir);
    sh('ip', ['netns', 'add', name]);
    sh('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', name]);
    // A stand-in for the crashed run's dnsmasq: its command line names the run's folder.
    const orphan = spawn('ip', ['netns', 'exec', name, 'sh', '-c', 'sleep 600; :', dir], {
      stdio: 'ignore',
      detached: true,
    });
    orphan.unref();
    const dead = spawnSync('true').pid;
    writeFileSync(
      path.join(stateDir, '250.json'),
      JSON.stringify({
        pid: dead,
        id,
        board: 'crashed',
        index: 250,
        netns: name,
        hostLink: name,
        pids: [orphan.pid],
        dir,
      }),
    );
    // A live run's record (this process) must survive.
    const live = `hwt-live${id.slice(-2)}`;
    sh('ip', ['netns', 'add', live]);
    cleanups.push(() => void sh('ip', ['netns', 'del', live]));
    writeFileSync(
      path.join(stateDir, '251.json'),
      JSON.stringify({
        pid: process.pid,
        id: 'live',
        board: 'live',
        index: 251,
        netns: live,
        hostLink: live,
        pids: [],
        dir: '',
      }),
    );

    net = await createVirtualNetwork({
      board: 'next',
      nicModel: 'e1000',
      sshKey: generateRunKey(),
      stateDir,
      mode: 'netns',
    });
    expect(namespaces()).to.not.include(name);
    expect(hostLinks()).to.not.include(name);
    expect(existsSync(dir)).to.equal(false);
    expect(
      existsSync(`/proc/${orphan.pid}`) && !/zombie|\(Z\)/.test(sh('cat', [`/proc/${orphan.pid}/stat`])),
    ).to.equal(false);
    expect(namespaces()).to.include(live);
    expect(net.subnet!.index).to.not.equal(251);
  });
});
