import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import {
  FailError,
  chainedSteps,
  addressCommand,
  hasTool,
  missingTool,
  nameLookup,
  rig,
  skipBecause,
  type BoardNetwork,
  type Dut,
} from '../fixture.js';
import { HostnameOracle } from './hostname.js';

/**
 * The network suite: what a customer's device depends on, checked from both sides. Each step is
 * a test with its timeout from the board type (or the OS profile); a later step that needs an
 * earlier one is skipped, naming the step that failed, so the failing step is the one the report
 * shows red. It asks only what the OS profile promises (network.*, commands.*, the hostname it
 * can configure or knows): what the profile does not promise is skipped with the field to set.
 */
describe('network', function () {
  let net: BoardNetwork;
  let address: string | undefined;
  let dut: Dut | undefined;
  let hostname: HostnameOracle;
  /** Why the whole suite cannot run; each test skips with it (a skip in a hook loses its reason). */
  let unavailable: string | undefined;
  const seconds = (k: 'dhcp' | 'mdns' | 'ssh', fallback: number) =>
    (rig().type.timeouts[k] ?? fallback) * 1000;
  const command = () => rig().type.timeouts.command * 1000;

  const step = chainedSteps(() => unavailable);

  /** The SSH session of step 3, in which steps 4 to 6 run their commands. */
  function session(ctx: Mocha.Context): Dut {
    if (!dut) skipBecause(ctx, 'not run: step "3" logged in to no SSH session');
    return dut;
  }

  before(async function () {
    const { boot, type, network } = rig();
    if (!network) unavailable = 'this run set no network up for the board';
    else if (boot.failure) unavailable = `not reached: the boot failed before: ${boot.failure.message}`;
    if (unavailable || !network) return;
    net = network;
    hostname = new HostnameOracle(rig());
    const t = type.timeouts;
    this.timeout((t.bootloader + t.kernel + t.userspace + t.login + t.command) * 1000);
    await boot.reach('shell', rig().signal);
  });

  after(async () => {
    await dut?.close();
  });

  /** The board's IPv4 address as its console shows it, asked until the DHCP deadline; or why not asked. */
  async function consoleAddress(
    deadline: number,
  ): Promise<{ shown: string; address?: string; why?: string }> {
    const how = addressCommand(rig().os);
    if ('reason' in how) return { shown: `not checked: ${how.reason}`, why: how.reason };
    const shell = await rig().boot.shell(rig().signal);
    let out = '';
    // The console has no event for an address change: ask again until the DHCP timeout.
    for (;;) {
      out = (await shell.run(how.command, { signal: rig().signal })).stdout;
      if (/\binet\s+\d/.test(out) || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    rig().attach('ip addr (console)', out);
    const shown = `console \`${how.command}\`: ${out.trim() || '(no output)'}`;
    return { shown, address: /\binet\s+(\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1] };
  }

  /** The interface the board reaches the gateway through, when the profile names none. */
  async function attachInterface(): Promise<void> {
    const { os, boot, signal } = rig();
    if (os.network?.interface)
      return rig().attach('interface', `${os.network.interface} (network.interface)`);
    if (!hasTool(os, 'ip') || !net.gateway) return;
    const r = await (await boot.shell(signal)).run(`ip route get ${net.gateway}`, { signal });
    const dev = /\bdev\s+(\S+)/.exec(r.stdout)?.[1];
    rig().attach('interface', `${dev ?? 'not found'} (ip route get ${net.gateway}: ${r.stdout.trim()})`);
  }

  /** The hostname in the DHCP request, when the OS sends one and a name can be expected. */
  async function checkDhcpHostname(lease: { hostname?: string; mac: string }): Promise<void> {
    if (rig().os.network?.dhcpHostname === false)
      return rig().attach('hostname in the DHCP request', 'not checked: network.dhcpHostname is false');
    const want = await hostname.expected();
    if (want.name === undefined)
      return rig().attach('hostname in the DHCP request', `not checked: ${want.why}`);
    expect(lease.hostname, `hostname sent in the DHCP request (expected: ${want.why})`).to.equal(want.name);
  }

  step(
    '1: the board obtains a DHCP lease, seen in the lease file and in ip addr on the console',
    [],
    async function () {
      this.timeout(seconds('dhcp', 60) + 10_000);
      const deadline = Date.now() + seconds('dhcp', 60);
      let leaseError: Error | undefined;
      const lease = net.waitForLease
        ? await net
            .waitForLease({ timeoutMs: seconds('dhcp', 60), signal: rig().signal })
            .catch((e: Error) => {
              leaseError = e;
              return undefined;
            })
        : undefined;
      if (net.waitForLease) rig().attach('dnsmasq leases', (await net.leases()) ?? '');
      else rig().attach('lease file', `none: ${net.kind} networking, the rig runs no DHCP server here`);
      const seen = await consoleAddress(deadline);
      // Seen from both sides: the failure quotes the lease file and the board's own view.
      if (leaseError) throw new FailError(`${leaseError.message}; ${seen.shown}`, { board: rig().boardName });
      if (!lease && seen.why) skipBecause(this, `no DHCP server of the rig's here, and ${seen.why}`);
      if (!seen.why)
        expect(
          seen.address,
          `no IPv4 address on the ${seen.shown}; lease file: ${(await net.leases())?.trim() || '(none)'}`,
        ).to.be.a('string');
      if (lease && seen.address)
        expect(
          seen.address,
          `the board's address vs its lease (${lease.mac} ${lease.hostname ?? ''})`,
        ).to.equal(lease.address);
      address = lease?.address ?? seen.address;
      if (lease) await checkDhcpHostname(lease);
      await attachInterface();
    },
  );

  step('2: the rig resolves <hostname>.local over mDNS', ['1'], async function () {
    const { os, signal } = rig();
    if (net.mdnsUnavailable) skipBecause(this, net.mdnsUnavailable);
    if (!os.network?.mdns || os.network.mdns.hostname === false)
      skipBecause(this, `the OS profile ${os.name} promises no mDNS hostname (network.mdns.hostname)`);
    const want = await hostname.expected();
    if (want.name === undefined) skipBecause(this, want.why);
    this.timeout(seconds('mdns', 20) + 5000);
    const t0 = Date.now();
    const resolved = await net.resolveMdns(want.name, { timeoutMs: seconds('mdns', 20), signal });
    rig().metric('mdnsResolveMs', Date.now() - t0);
    rig().attach('mdns', `${want.name}.local -> ${resolved} (hostname ${want.why})`);
    if (address) expect(resolved, `${want.name}.local over mDNS vs the DHCP lease`).to.equal(address);
  });

  step(
    "3: SSH logs in as the OS profile says (the run's key, or the profile's key or password), accepting the host key for this run only",
    ['1'],
    async function () {
      this.timeout(seconds('ssh', 60) + 10_000);
      const knownHosts = path.join(homedir(), '.ssh', 'known_hosts');
      const before = existsSync(knownHosts) ? statSync(knownHosts).mtimeMs : undefined;
      const t0 = Date.now();
      dut = await net.connect({ timeoutMs: seconds('ssh', 60), signal: rig().signal });
      rig().metric('sshLoginMs', Date.now() - t0);
      const r = await dut.exec('id -un; cat /proc/sys/kernel/hostname', { timeoutMs: command() });
      expect(r.code, `\`id -un; cat /proc/sys/kernel/hostname\` over SSH: ${r.stderr}`).to.equal(0);
      const [user, host] = r.stdout.trim().split('\n');
      expect(user, 'logged in as the OS profile says (ssh.user)').to.equal(rig().os.ssh.user);
      const want = await hostname.expected();
      if (want.name === undefined) rig().attach('hostname', `${host}: not compared: ${want.why}`);
      else expect(host, `the board's hostname (expected: ${want.why})`).to.equal(want.name);
      const after = existsSync(knownHosts) ? statSync(knownHosts).mtimeMs : undefined;
      expect(after, `${knownHosts} must not change`).to.equal(before);
    },
  );

  step('4: the board resolves a name through the DHCP-provided DNS', ['1', '3'], async function () {
    const { os, signal } = rig();
    if (!net.rigName) skipBecause(this, `${net.kind} networking has no rig-served DNS`);
    const lookup = nameLookup(os, net.rigName.name);
    if (!lookup) skipBecause(this, missingTool(os, ['getent', 'resolvectl', 'nslookup'], 'a name lookup'));
    this.timeout(command() * 2);
    const r = await session(this).exec(lookup.command, { timeoutMs: command(), signal });
    rig().attach(lookup.tool, r.stdout + r.stderr);
    expect(r.code, `\`${lookup.command}\` on the board: ${r.stdout}${r.stderr}`).to.equal(0);
    expect(r.stdout, `${net.rigName.name} through the DHCP-provided DNS`).to.include(net.rigName.address);
  });

  step(
    "5: the board's default route is the rig's gateway, and it answers ping",
    ['1', '3'],
    async function () {
      const { os, signal } = rig();
      const gateway = net.gateway;
      if (!gateway) skipBecause(this, `${net.kind} networking names no gateway`);
      if (!hasTool(os, 'ip') && !hasTool(os, 'ping'))
        skipBecause(this, missingTool(os, ['ip', 'ping'], 'this check'));
      this.timeout(command() * 3);
      const opts = { timeoutMs: command(), signal };
      if (hasTool(os, 'ip')) {
        const route = await session(this).exec('ip route show default', opts);
        const gw = /default via (\S+)/.exec(route.stdout)?.[1];
        expect(
          gw,
          `the board's default route: ${route.stdout.trim() || route.stderr.trim() || '(none)'}`,
        ).to.equal(gateway);
      } else rig().attach('default route', `not checked: ${missingTool(os, ['ip'], 'reading the route')}`);
      if (hasTool(os, 'ping')) {
        const ping = await session(this).exec(`ping -c 3 -W 2 ${gateway}`, opts);
        expect(ping.code, `ping ${gateway} from the board: ${ping.stdout}${ping.stderr}`).to.equal(0);
      } else rig().attach('ping', `not checked: ${missingTool(os, ['ping'], 'ping')}`);
    },
  );

  step('6: the board takes 10 MiB over SSH intact', ['1', '3'], async function () {
    const { os, signal } = rig();
    const sum = os.commands.sha256 ?? (hasTool(os, 'sha256sum') ? 'sha256sum {file}' : undefined);
    if (!sum)
      skipBecause(this, `${missingTool(os, ['sha256sum'], 'checking the copy')} and has no commands.sha256`);
    this.timeout(4 * seconds('ssh', 60) + command() * 3);
    const data = randomBytes(10 * 1024 * 1024);
    const sha = createHash('sha256').update(data).digest('hex');
    const remote = '/tmp/hw-test-10MiB';
    const t0 = process.hrtime.bigint();
    await session(this).put(data, remote, { signal });
    const took = Number(process.hrtime.bigint() - t0) / 1e9;
    const method = (dut as { lastPutMethod?: string }).lastPutMethod;
    rig().attach('transfer', `10 MiB in ${took.toFixed(2)} s via ${method ?? 'put'}`);
    rig().metric('sshThroughputMBps', Number((10 / took).toFixed(3)));
    const r = await session(this).exec(`${sum.replace('{file}', remote)}; rm -f ${remote}`, {
      timeoutMs: command() * 2,
      signal,
    });
    expect(r.stdout.split(/\s+/)[0], `sha256 of the copy on the board: ${r.stdout}${r.stderr}`).to.equal(sha);
  });

  step('7: the board advertises the mDNS services its OS profile lists', ['1'], async function () {
    const { os, signal } = rig();
    if (net.mdnsUnavailable) skipBecause(this, net.mdnsUnavailable);
    const services = os.network?.mdns?.services ?? [];
    if (!services.length)
      skipBecause(
        this,
        `the OS profile ${os.name} lists no service in network.mdns.services (stock avahi advertises none)`,
      );
    this.timeout(services.length * seconds('mdns', 20) + 5000);
    for (const service of services) {
      const browse = net.browse
        ? (o: { timeoutMs: number; signal?: AbortSignal }) => net.browse!(service, o)
        : service === '_ssh._tcp'
          ? (o: { timeoutMs: number; signal?: AbortSignal }) => net.browseSsh(o)
          : undefined;
      if (!browse) skipBecause(this, `this network cannot browse ${service}`);
      const found = await browse({ timeoutMs: seconds('mdns', 20), signal });
      rig().attach(`${service} instances`, JSON.stringify(found, null, 2), 'application/json');
      const mine = found.find((s) => !address || s.addresses.includes(address));
      expect(
        mine,
        `no ${service} instance at ${address ?? 'the board'}: saw ${JSON.stringify(found)}`,
      ).to.not.equal(undefined);
      if (service === '_ssh._tcp') expect(mine!.port, '_ssh._tcp port vs ssh.port').to.equal(os.ssh.port);
    }
  });
});
