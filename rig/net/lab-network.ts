import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Dut } from '../suite-api/contracts.js';
import { InfraError, InputError } from '../errors.js';
import { logger } from '../log.js';
import { realSpawner, runChecked, type ProcessHandle, type Spawner } from '../util/spawn.js';
import {
  RIG_DOMAIN,
  dnsmasqConf,
  readLeaseFile,
  startDnsmasq,
  type DnsmasqConfig,
  type Lease,
} from './dnsmasq.js';
import { waitForLease } from './leases.js';
import { browseService, browseSsh, resolveMdns, type SshInstance } from './mdns.js';
import { RunHostKeys, sshConnect } from './ssh.js';
import type { SshKey } from './ssh-key.js';
import { cidrRange, intToIp } from './subnet.js';
import type { VirtualNetwork } from './network.js';

const log = logger('net:lab');

/** A real board's Ethernet as the lab file wires it. */
export interface LabNetworkConfig {
  /** The rig's interface the board's Ethernet is on (e.g. `enx00e04c680001`). */
  interface: string;
  /** `rig`: the rig runs dnsmasq on the interface; `lab`: the lab's own DHCP server serves the board. */
  dhcp: 'rig' | 'lab';
  /** With `dhcp: rig`: the /24 served on the interface (the rig takes .1). */
  subnet?: string;
}

export type LabNetwork = Omit<VirtualNetwork, 'kind' | 'qemuNetArgs' | 'wrapper' | 'mac'> & {
  readonly kind: 'lab';
};

/** Checks the lab file's network block: one line naming the field when it is wrong. */
export function validateLabNetwork(c: LabNetworkConfig, where: string): void {
  if (!/^[\w.:-]{1,15}$/.test(c.interface))
    throw new InputError(`${where}: network.interface "${c.interface}" is not an interface name`, {
      field: 'network.interface',
    });
  if (c.dhcp !== 'rig' && c.dhcp !== 'lab')
    throw new InputError(`${where}: network.dhcp must be "rig" or "lab", not "${String(c.dhcp)}"`, {
      field: 'network.dhcp',
    });
  if (c.dhcp === 'rig') {
    if (!c.subnet || !/^\d+\.\d+\.\d+\.0\/24$/.test(c.subnet)) {
      throw new InputError(
        `${where}: network.subnet must be a /24 such as 192.168.77.0/24 when network.dhcp is "rig"`,
        { field: 'network.subnet' },
      );
    }
  }
}

/** dnsmasq on the lab interface: the rig is .1 (gateway-less: the board keeps the lab's routes off). */
export function labDnsmasqConfig(c: LabNetworkConfig, dir: string): DnsmasqConfig & { rig: string } {
  const [first] = cidrRange(c.subnet!);
  const rig = intToIp(first + 1);
  return {
    rig,
    interface: c.interface,
    address: rig,
    dhcpFirst: intToIp(first + 100),
    dhcpLast: intToIp(first + 199),
    netmask: '255.255.255.0',
    leaseFile: path.join(dir, 'dnsmasq.leases'),
    domain: RIG_DOMAIN,
    hosts: [{ name: `rig.${RIG_DOMAIN}`, address: rig }],
  };
}

async function interfaceAddress(spawner: Spawner, iface: string): Promise<string> {
  const r = await runChecked(spawner, 'ip', ['-4', '-o', 'addr', 'show', 'dev', iface], {
    what: `reading ${iface}'s address`,
  });
  const a = /\binet\s+(\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout)?.[1];
  if (!a)
    throw new InfraError(
      `${iface} has no IPv4 address: the lab's DHCP or the host's network settings must give it one`,
      { device: iface },
    );
  return a;
}

/** The rig's address on the lab interface, and dnsmasq serving DHCP and DNS on it. */
async function serveDhcp(
  spawner: Spawner,
  config: LabNetworkConfig,
  dir: string,
  signal?: AbortSignal,
): Promise<{ rig: string; leaseFile: string; dnsmasq: ProcessHandle }> {
  mkdirSync(dir, { recursive: true });
  const conf = labDnsmasqConfig(config, dir);
  const rig = conf.rig;
  await runChecked(spawner, 'ip', ['addr', 'replace', `${rig}/24`, 'dev', config.interface], { signal });
  await runChecked(spawner, 'ip', ['link', 'set', config.interface, 'up'], { signal });
  const confFile = path.join(dir, 'dnsmasq.conf');
  writeFileSync(confFile, dnsmasqConf(conf));
  writeFileSync(conf.leaseFile, '');
  const dnsmasq = await startDnsmasq({
    spawner,
    wrapper: [],
    confFile,
    logFile: path.join(dir, 'dnsmasq.log'),
    signal,
  });
  return { rig, leaseFile: conf.leaseFile, dnsmasq };
}

/**
 * The network of a real board: the lab interface, optionally with the rig's dnsmasq on it. The
 * board is found by its lease (its hostname, configured into the image) or over mDNS.
 */
export async function createLabNetwork(o: {
  board: string;
  config: LabNetworkConfig;
  hostname: string;
  sshKey: SshKey;
  dir: string;
  spawner?: Spawner;
  /** The OS profile's SSH user and port, and its password when it logs in with one (ssh.password). */
  ssh?: { user: string; port: number; password?: string };
  signal?: AbortSignal;
}): Promise<LabNetwork> {
  const spawner = o.spawner ?? realSpawner;
  validateLabNetwork(o.config, o.board);
  const { rig, leaseFile, dnsmasq } =
    o.config.dhcp === 'rig'
      ? await serveDhcp(spawner, o.config, o.dir, o.signal)
      : {
          rig: await interfaceAddress(spawner, o.config.interface),
          leaseFile: undefined,
          dnsmasq: undefined,
        };
  log('%s: lab network on %s (rig %s, dhcp by %s)', o.board, o.config.interface, rig, o.config.dhcp);
  const hostKeys = new RunHostKeys();
  const scope = { interfaceAddress: rig, subnet: o.config.subnet };
  const lease = (t: { timeoutMs: number; signal?: AbortSignal }): Promise<Lease> =>
    waitForLease(leaseFile!, { ...t, hostname: o.hostname, board: o.board });
  let down = false;
  return {
    kind: 'lab',
    mdnsUnavailable: undefined,
    gateway: o.config.dhcp === 'rig' ? rig : undefined,
    rigName: o.config.dhcp === 'rig' ? { name: `rig.${RIG_DOMAIN}`, address: rig } : undefined,
    hostKeys,
    leases: () => Promise.resolve(leaseFile ? readLeaseFile(leaseFile) : undefined),
    waitForLease: leaseFile ? lease : undefined,
    resolveMdns: (h: string, t: { timeoutMs: number; signal?: AbortSignal }) => resolveMdns(h, scope, t),
    browseSsh: (t: { timeoutMs: number; signal?: AbortSignal }): Promise<SshInstance[]> =>
      browseSsh(scope, t),
    browse: (service: string, t: { timeoutMs: number; signal?: AbortSignal }): Promise<SshInstance[]> =>
      browseService(scope, service, t),
    async connect(t: { host?: string; timeoutMs: number; signal?: AbortSignal }): Promise<Dut> {
      const started = Date.now();
      const host = t.host ?? (leaseFile ? (await lease(t)).address : await resolveMdns(o.hostname, scope, t));
      const left = Math.max(1, t.timeoutMs - (Date.now() - started));
      return sshConnect(
        {
          host,
          port: o.ssh?.port ?? 22,
          username: o.ssh?.user ?? 'root',
          password: o.ssh?.password,
          key: o.sshKey,
          hostKeys,
          board: o.board,
        },
        { timeoutMs: left, signal: t.signal },
      );
    },
    async teardown() {
      if (down) return;
      down = true;
      await dnsmasq?.stop(2000);
      if (o.config.dhcp === 'rig') {
        await spawner.run('ip', ['addr', 'del', `${rig}/24`, 'dev', o.config.interface]);
        rmSync(o.dir, { recursive: true, force: true });
      }
    },
  };
}
