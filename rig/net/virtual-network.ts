import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Dut } from '../suite-api/contracts.js';
import { InfraError, InputError } from '../errors.js';
import { logger } from '../log.js';
import { realSpawner, type ProcessHandle, type Spawner } from '../util/spawn.js';
import { RIG_DOMAIN, dnsmasqConf, readLeaseFile, startDnsmasq, type Lease } from './dnsmasq.js';

export { RIG_DOMAIN };
import { Ip } from './ip.js';
import { waitForLease } from './leases.js';
import { browseService, browseSsh, resolveMdns, type SshInstance } from './mdns.js';
import {
  NET_PREFIX,
  claimRecord,
  cleanStale,
  defaultStateDir,
  readRecords,
  removeRecorded,
  trackLive,
  untrackLive,
  updateRecord,
  type NetRecord,
} from './net-state.js';
import { RunHostKeys, sshConnect } from './ssh.js';
import type { SshKey } from './ssh-key.js';
import { freeIndexes, planSubnet, type SubnetPlan } from './subnet.js';
import { createUserNetwork } from './user-network.js';
import type { VirtualNetwork } from './network.js';

export type { VirtualNetwork };

const log = logger('net:virtual');

export interface VirtualNetworkOptions {
  board: string;
  /** Preferred subnet number (`10.213.<index>.0/24`) when free; any free one otherwise. */
  index?: number;
  nicModel: string;
  sshKey: SshKey;
  signal?: AbortSignal;
  spawner?: Spawner;
  /** Where records of live networks are kept (crash recovery): `/run/hw-test/net`. */
  stateDir?: string;
  /** First two octets of the board subnets. */
  subnetBase?: string;
  /** The OS profile's SSH user and port, and its password when it logs in with one (ssh.password). */
  ssh?: { user: string; port: number; password?: string };
  /** `auto` (default): a namespace when root and /dev/net/tun allow it, else user-mode. */
  mode?: 'auto' | 'netns' | 'user';
}

/** Why a namespace network cannot be made here, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return 'no /dev/net/tun';
  }
  return undefined;
}

/** `HW_TEST_NET=user|netns|auto` chooses the kind of network for virtual boards (default auto). */
export function modeFromEnv(env: NodeJS.ProcessEnv): 'auto' | 'netns' | 'user' {
  const v = env.HW_TEST_NET ?? 'auto';
  if (v === 'auto' || v === 'netns' || v === 'user') return v;
  throw new InputError(`HW_TEST_NET=${v}: expected auto, netns or user`, { field: 'HW_TEST_NET' });
}

export function macFor(id: string): string {
  const b = Buffer.from(id.padEnd(6, '0').slice(0, 6), 'hex');
  return ['52', '54', '00', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

export async function createVirtualNetwork(opts: VirtualNetworkOptions): Promise<VirtualNetwork> {
  const mode = opts.mode ?? modeFromEnv(process.env);
  const why = netnsUnavailable();
  if (mode === 'user' || (mode === 'auto' && why)) {
    return createUserNetwork({ ...opts, reason: mode === 'user' ? 'user-mode networking requested' : why! });
  }
  if (why)
    throw new InfraError(`a network namespace for ${opts.board} needs root and /dev/net/tun: ${why}`, {
      board: opts.board,
    });
  return NetnsNetwork.create(opts);
}

class NetnsNetwork implements VirtualNetwork {
  readonly kind = 'netns' as const;
  readonly mdnsUnavailable = undefined;
  readonly hostKeys = new RunHostKeys();
  readonly bridge = 'br0';
  dnsmasq: ProcessHandle | undefined;
  #down = false;

  private constructor(
    private readonly opts: VirtualNetworkOptions,
    private readonly ip: Ip,
    private readonly stateDir: string,
    private readonly rec: NetRecord,
    readonly subnet: SubnetPlan,
  ) {}

  get netns() {
    return this.rec.netns;
  }
  get mac() {
    return macFor(this.rec.id);
  }
  get gateway() {
    return this.subnet.gateway;
  }
  get wrapper() {
    return ['ip', 'netns', 'exec', this.rec.netns];
  }
  get qemuNetArgs() {
    return [
      '-netdev',
      'tap,id=net0,ifname=tap0,script=no,downscript=no',
      '-device',
      `${this.opts.nicModel},netdev=net0,mac=${this.mac}`,
    ];
  }
  get rigName() {
    return { name: `rig.${RIG_DOMAIN}`, address: this.subnet.rig };
  }
  get leaseFile() {
    return path.join(this.rec.dir, 'dnsmasq.leases');
  }
  get logFile() {
    return path.join(this.rec.dir, 'dnsmasq.log');
  }

  static async create(opts: VirtualNetworkOptions): Promise<NetnsNetwork> {
    const ip = new Ip(opts.spawner ?? realSpawner);
    const stateDir = opts.stateDir ?? defaultStateDir();
    const stale = await cleanStale(ip, stateDir);
    if (stale.length) log('removed %d network(s) left by crashed runs', stale.length);
    const base = opts.subnetBase ?? '10.213';
    const inUse = [...(await ip.hostAddresses()), ...(await ip.routes())];
    const taken = new Set(readRecords(stateDir).map((r) => r.index));
    const free = freeIndexes(base, inUse, taken);
    if (opts.index !== undefined && free.includes(opts.index)) free.unshift(opts.index);
    const id = randomBytes(3).toString('hex');
    for (const index of free) {
      const rec: NetRecord = {
        pid: process.pid,
        id,
        board: opts.board,
        index,
        netns: `${NET_PREFIX}${id}`,
        hostLink: `${NET_PREFIX}${id}`,
        pids: [],
        dir: path.join(stateDir, `${NET_PREFIX}${id}`),
      };
      // Another run may claim the same subnet between our scan and here: O_EXCL decides.
      if (!claimRecord(stateDir, rec)) continue;
      trackLive(stateDir, rec);
      const net = new NetnsNetwork(opts, ip, stateDir, rec, planSubnet(base, index));
      try {
        await net.build();
        return net;
      } catch (err) {
        await net.teardown();
        throw err;
      }
    }
    throw new InfraError(`no free /24 left in ${base}.0.0/16 for ${opts.board}'s network`, {
      board: opts.board,
    });
  }

  private async build(): Promise<void> {
    const { ip, rec, subnet } = this;
    const ns = rec.netns;
    const signal = this.opts.signal;
    mkdirSync(rec.dir, { recursive: true });
    await ip.run(['netns', 'add', ns], { signal });
    await ip.run(['link', 'set', 'lo', 'up'], { ns, signal });
    // No STP and no multicast snooping: mDNS must flood the bridge from the first packet.
    await ip.run(
      ['link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0'],
      { ns, signal },
    );
    await ip.run(['addr', 'add', `${subnet.gateway}/24`, 'dev', 'br0'], { ns, signal });
    await ip.run(['link', 'set', 'br0', 'up'], { ns, signal });
    await ip.run(['tuntap', 'add', 'dev', 'tap0', 'mode', 'tap'], { ns, signal });
    await ip.run(['link', 'set', 'tap0', 'master', 'br0', 'up'], { ns, signal });
    await ip.run(['link', 'add', rec.hostLink, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', ns], {
      signal,
    });
    await ip.run(['link', 'set', 'veth0', 'master', 'br0', 'up'], { ns, signal });
    await ip.run(['addr', 'add', `${subnet.rig}/24`, 'dev', rec.hostLink], { signal });
    await ip.run(['link', 'set', rec.hostLink, 'up'], { signal });
    const confFile = path.join(rec.dir, 'dnsmasq.conf');
    writeFileSync(
      confFile,
      dnsmasqConf({
        interface: 'br0',
        address: subnet.gateway,
        dhcpFirst: subnet.dhcpFirst,
        dhcpLast: subnet.dhcpLast,
        netmask: subnet.netmask,
        leaseFile: this.leaseFile,
        domain: RIG_DOMAIN,
        hosts: [
          { name: `rig.${RIG_DOMAIN}`, address: subnet.rig },
          { name: `gateway.${RIG_DOMAIN}`, address: subnet.gateway },
        ],
      }),
    );
    writeFileSync(this.leaseFile, '');
    this.dnsmasq = await startDnsmasq({
      spawner: this.opts.spawner ?? realSpawner,
      wrapper: this.wrapper,
      confFile,
      logFile: this.logFile,
      signal,
    });
    if (this.dnsmasq.pid) rec.pids.push(this.dnsmasq.pid);
    updateRecord(this.stateDir, rec);
    log('%s: netns %s, %s, rig %s, gateway %s', this.opts.board, ns, subnet.cidr, subnet.rig, subnet.gateway);
  }

  leases(): Promise<string | undefined> {
    return Promise.resolve(readLeaseFile(this.leaseFile));
  }

  /**
   * A lease the board got is found even if dnsmasq died since; without one, a dead dnsmasq is the
   * rig's fault (infra), not a board that never asked (fail): the wait stops as soon as it exits.
   */
  async waitForLease(o: { timeoutMs: number; signal?: AbortSignal }): Promise<Lease> {
    const d = this.dnsmasq;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(o.signal?.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const dead = d
      ? d.exited.then(({ code, signal }) => {
          ctl.abort();
          return new InfraError(
            `${this.opts.board}: the rig's dnsmasq (pid ${d.pid}) exited (${code ?? signal}) while the board waited for a DHCP lease; see ${this.logFile}`,
            { board: this.opts.board, file: this.logFile },
          );
        })
      : undefined;
    try {
      return await waitForLease(this.leaseFile, {
        ...o,
        signal: ctl.signal,
        mac: this.mac,
        board: this.opts.board,
      });
    } catch (err) {
      // The lease file is read once more first: a lease given before the exit still counts.
      if (d && !d.running && !o.signal?.aborted) throw await dead!;
      throw err;
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  private get scope() {
    return { interfaceAddress: this.subnet.rig, subnet: this.subnet.cidr };
  }

  resolveMdns(hostname: string, o: { timeoutMs: number; signal?: AbortSignal }): Promise<string> {
    return resolveMdns(hostname, this.scope, o);
  }

  browseSsh(o: { timeoutMs: number; signal?: AbortSignal }): Promise<SshInstance[]> {
    return browseSsh(this.scope, o);
  }

  browse(service: string, o: { timeoutMs: number; signal?: AbortSignal }): Promise<SshInstance[]> {
    return browseService(this.scope, service, o);
  }

  async connect(o: { host?: string; timeoutMs: number; signal?: AbortSignal }): Promise<Dut> {
    const started = Date.now();
    const host = o.host ?? (await this.waitForLease(o)).address;
    return sshConnect(
      {
        host,
        port: this.opts.ssh?.port ?? 22,
        username: this.opts.ssh?.user ?? 'root',
        password: this.opts.ssh?.password,
        key: this.opts.sshKey,
        hostKeys: this.hostKeys,
        board: this.opts.board,
      },
      { timeoutMs: Math.max(1, o.timeoutMs - (Date.now() - started)), signal: o.signal },
    );
  }

  /** Stops dnsmasq, removes the veth, the namespace (with its bridge and tap) and the files. */
  async teardown(): Promise<void> {
    if (this.#down) return;
    this.#down = true;
    await this.dnsmasq?.stop(2000);
    await removeRecorded(this.ip, this.stateDir, this.rec);
    untrackLive(this.rec);
    log('%s: network %s removed', this.opts.board, this.rec.netns);
  }
}
