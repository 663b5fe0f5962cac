import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { FailError, rig, skipBecause, type BoardNetwork, type Dut } from '../fixture.js';

/**
 * The network suite: what a customer's device depends on, checked from both sides. Each step is
 * a test with its timeout from the board type; a later step that needs an earlier one is skipped,
 * naming the step that failed, so the failing step is the one the report shows red.
 */
describe('network', function () {
  let net: BoardNetwork;
  let address: string | undefined;
  let dut: Dut | undefined;
  const failed: string[] = [];
  /** Why the whole suite cannot run; each test skips with it (a skip in a hook loses its reason). */
  let unavailable: string | undefined;
  const seconds = (k: 'dhcp' | 'mdns' | 'ssh', fallback: number) =>
    (rig().type.timeouts[k] ?? fallback) * 1000;

  /** Runs a step, recording its failure for the steps after it. */
  function step(name: string, needs: string[], fn: (this: Mocha.Context) => Promise<void>) {
    it(name, async function () {
      if (unavailable) skipBecause(this, unavailable);
      const missing = needs.filter((n) => failed.includes(n));
      if (missing.length) skipBecause(this, `not run: step "${missing[0]}" failed`);
      try {
        await fn.call(this);
      } catch (err) {
        // mocha's skip throws a Pending that is no Error: only real failures block later steps.
        if (err instanceof Error) failed.push(name.split(':')[0]);
        throw err;
      }
    });
  }

  before(async function () {
    const { boot, type, network } = rig();
    if (!network) unavailable = 'this run set no network up for the board';
    else if (boot.failure) unavailable = `not reached: the boot failed before: ${boot.failure.message}`;
    if (unavailable || !network) return;
    net = network;
    const t = type.timeouts;
    this.timeout((t.bootloader + t.kernel + t.userspace + t.login + t.command) * 1000);
    await boot.reach('shell', rig().signal);
  });

  after(async () => {
    await dut?.close();
  });

  step(
    '1: the board obtains a DHCP lease, seen in the lease file and in ip addr on the console',
    [],
    async function () {
      this.timeout(seconds('dhcp', 60) + 10_000);
      const { os, boot, signal } = rig();
      const deadline = Date.now() + seconds('dhcp', 60);
      let leaseError: Error | undefined;
      const lease = net.waitForLease
        ? await net.waitForLease({ timeoutMs: seconds('dhcp', 60), signal }).catch((e: Error) => {
            leaseError = e;
            return undefined;
          })
        : undefined;
      if (net.waitForLease) rig().attach('dnsmasq leases', (await net.leases()) ?? '');
      else rig().attach('lease file', `none: ${net.kind} networking, the rig runs no DHCP server here`);
      const shell = await boot.shell(signal);
      const cmd = os.commands.ipAddr ?? 'ip -4 -o addr show dev eth0';
      let out = '';
      // The console has no event for an address change: ask again until the DHCP timeout.
      for (;;) {
        const r = await shell.run(cmd, { signal });
        out = r.stdout;
        if (/\binet\s+\d/.test(out) || Date.now() > deadline) break;
        await new Promise((res) => setTimeout(res, 1000));
      }
      rig().attach('ip addr (console)', out);
      const consoleSide = `console \`${cmd}\`: ${out.trim() || '(no output)'}`;
      // Seen from both sides: the failure quotes the lease file and the board's own view.
      if (leaseError)
        throw new FailError(`${leaseError.message}; ${consoleSide}`, { board: rig().boardName });
      const onBoard = /\binet\s+(\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
      expect(
        onBoard,
        `no IPv4 address on the ${consoleSide}; lease file: ${(await net.leases())?.trim() || '(none)'}`,
      ).to.be.a('string');
      if (lease) {
        expect(onBoard, `the board's address vs its lease (${lease.mac} ${lease.hostname ?? ''})`).to.equal(
          lease.address,
        );
        expect(lease.hostname, 'hostname sent in the DHCP request').to.equal(rig().hostname);
      }
      address = lease?.address ?? onBoard;
    },
  );

  step('2: the rig resolves <hostname>.local and discovers _ssh._tcp over mDNS', ['1'], async function () {
    if (net.mdnsUnavailable) skipBecause(this, net.mdnsUnavailable);
    this.timeout(2 * seconds('mdns', 20) + 5000);
    const { hostname, signal } = rig();
    const t0 = Date.now();
    const resolved = await net.resolveMdns(hostname, { timeoutMs: seconds('mdns', 20), signal });
    rig().metric('mdnsResolveMs', Date.now() - t0);
    expect(resolved, `${hostname}.local over mDNS vs the DHCP lease`).to.equal(address);
    const found = await net.browseSsh({ timeoutMs: seconds('mdns', 20), signal });
    rig().attach('_ssh._tcp instances', JSON.stringify(found, null, 2), 'application/json');
    const mine = found.find((s) => s.addresses.includes(resolved));
    expect(mine, `no _ssh._tcp instance at ${resolved}: saw ${JSON.stringify(found)}`).to.not.equal(
      undefined,
    );
    expect(mine!.port).to.equal(rig().os.ssh.port);
  });

  step(
    '3: SSH logs in with the key injected into the image, accepting the host key for this run only',
    ['1'],
    async function () {
      this.timeout(seconds('ssh', 60) + 10_000);
      const knownHosts = path.join(homedir(), '.ssh', 'known_hosts');
      const before = existsSync(knownHosts) ? statSync(knownHosts).mtimeMs : undefined;
      const t0 = Date.now();
      dut = await net.connect({ timeoutMs: seconds('ssh', 60), signal: rig().signal });
      rig().metric('sshLoginMs', Date.now() - t0);
      const r = await dut.exec('id -u; hostname', { timeoutMs: rig().type.timeouts.command * 1000 });
      expect(r.code, `\`id -u; hostname\` over SSH: ${r.stderr}`).to.equal(0);
      const [uid, host] = r.stdout.trim().split('\n');
      expect(uid, 'logged in as root').to.equal('0');
      expect(host, 'the hostname configured into the image').to.equal(rig().hostname);
      const after = existsSync(knownHosts) ? statSync(knownHosts).mtimeMs : undefined;
      expect(after, `${knownHosts} must not change`).to.equal(before);
    },
  );

  step(
    '4: the board resolves a name by DHCP DNS, pings its gateway, and takes 10 MiB over SSH intact',
    ['1', '3'],
    async function () {
      const { type, signal } = rig();
      this.timeout(4 * seconds('ssh', 60) + type.timeouts.command * 3000);
      const cmdOpts = { timeoutMs: type.timeouts.command * 1000, signal };
      const d = dut!;
      if (net.rigName) {
        const ns = await d.exec(`nslookup ${net.rigName.name}`, cmdOpts);
        rig().attach('nslookup', ns.stdout + ns.stderr);
        expect(ns.code, `nslookup ${net.rigName.name} on the board: ${ns.stdout}${ns.stderr}`).to.equal(0);
        expect(ns.stdout, `${net.rigName.name} through the DHCP-provided DNS`).to.include(
          net.rigName.address,
        );
      } else {
        rig().attach('dns', `not checked: ${net.kind} networking has no rig-served DNS`);
      }
      const route = await d.exec('ip route show default', cmdOpts);
      const gw = /default via (\S+)/.exec(route.stdout)?.[1];
      expect(
        gw,
        `the board's default route: ${route.stdout.trim() || route.stderr.trim() || '(none)'}`,
      ).to.equal(net.gateway);
      const ping = await d.exec(`ping -c 3 -W 2 ${gw}`, cmdOpts);
      expect(ping.code, `ping ${gw} from the board: ${ping.stdout}${ping.stderr}`).to.equal(0);

      const data = randomBytes(10 * 1024 * 1024);
      const sha = createHash('sha256').update(data).digest('hex');
      const remote = '/tmp/hw-test-10MiB';
      const t0 = process.hrtime.bigint();
      await d.put(data, remote, { signal });
      const seconds10 = Number(process.hrtime.bigint() - t0) / 1e9;
      const method = (d as { lastPutMethod?: string }).lastPutMethod;
      rig().attach('transfer', `10 MiB in ${seconds10.toFixed(2)} s via ${method ?? 'put'}`);
      rig().metric('sshThroughputMBps', Number((10 / seconds10).toFixed(3)));
      const sum = await d.exec(`sha256sum ${remote}; rm -f ${remote}`, {
        ...cmdOpts,
        timeoutMs: cmdOpts.timeoutMs * 2,
      });
      expect(
        sum.stdout.split(/\s+/)[0],
        `sha256 of the copy on the board: ${sum.stdout}${sum.stderr}`,
      ).to.equal(sha);
    },
  );
});
