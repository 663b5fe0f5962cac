import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FailError, InfraError, errorMessage } from '../errors.js';
import { logger, mask } from '../log.js';
import { withDeadline } from '../util/abort.js';
import type { Spawner } from '../util/spawn.js';
import type { CommandResult, Dut } from '../suite-api/contracts.js';
import { hostapdConf, type WifiCredentials } from './hostapd.js';
import type { SubnetPlan } from './subnet.js';
import { AGENT_DIR, ensureApAgent, installAgent, type AgentBundle } from './virtual-ap-agent.js';
import { parseDumpleases, parseStations, stationEvents, type AccessPoint } from './wifi-ap.js';

const log = logger('net:virtual-ap');

/** The port of the agent's HTTP server for the transfer test, on the AP's side. */
const HTTP_PORT = 8080;

export interface VirtualApOptions {
  board: string;
  /** The board type's arch: which agent build runs on it. */
  arch: string;
  /** The AP's SSID and passphrase (the image was given the run's; a test may give the AP others). */
  credentials: WifiCredentials;
  subnet: SubnetPlan;
  /** A command channel to the booted board (SSH with the run's key, over its Ethernet). */
  connect(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Dut>;
  /** Where hostapd's output is saved at stop (the report's wifi/ folder): nothing secret. */
  logDir: string;
  /** Each command's deadline on the board (the board type's command timeout). */
  commandTimeoutMs: number;
  env?: NodeJS.ProcessEnv;
  spawner?: Spawner;
  /** The agent to install (default: built from Debian packages and cached, `ensureApAgent`). */
  agent?: () => Promise<AgentBundle>;
  /** The run's signal: once it is aborted, the teardown is quick (the board is powered off next). */
  runSignal?: AbortSignal;
}

/**
 * The access point of a virtual board. The host has no radio, so the rig acts as the hardware
 * inside the board: it plugs in two radios on one simulated medium (mac80211_hwsim, loaded from
 * the board's own kernel), takes the second one into a network namespace of its own, and runs
 * hostapd and a DHCP server there with its own programs (rig/net/virtual-ap/agent.sh). The board
 * keeps the first radio and joins with its own, unmodified WiFi start-up. docs/wiring.md says what
 * this proves and what it does not.
 */
export class VirtualAccessPoint implements AccessPoint {
  readonly kind = 'virtual';
  readonly ssid: string;
  readonly subnet: string;
  readonly rigAddress: string;
  #dut: Dut | undefined;
  #up: Promise<{ bssid?: string }> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(private readonly o: VirtualApOptions) {
    this.ssid = o.credentials.ssid;
    this.subnet = o.subnet.cidr;
    this.rigAddress = o.subnet.gateway;
  }

  ready(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<{ bssid?: string }> {
    this.#up ??= withDeadline((signal) => this.#bringUp(signal), {
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      errorClass: 'infra',
      message: `${this.o.board}: the virtual access point did not come up`,
    });
    return this.#up;
  }

  async #bringUp(signal?: AbortSignal): Promise<{ bssid?: string }> {
    const bundle = await (this.o.agent?.() ??
      ensureApAgent(this.o.arch, { env: this.o.env, signal, spawner: this.o.spawner }));
    const t = { timeoutMs: this.o.commandTimeoutMs, signal };
    this.#dut = await this.o.connect({ timeoutMs: this.o.commandTimeoutMs * 2, signal });
    await installAgent(this.#dut, bundle, t);
    const radios = keyValues((await this.#agent(['plug'], t)).stdout);
    log('%s: radios %o', this.o.board, radios);
    const conf = hostapdConf({
      ...this.o.credentials,
      interface: radios.ap_iface,
      ctrlDir: `${AGENT_DIR}/run/hostapd`,
    });
    await this.#dut.put(Buffer.from(conf), `${AGENT_DIR}/hostapd.conf`, { signal });
    await this.#sh(`chmod 600 ${AGENT_DIR}/hostapd.conf`, t);
    const s = this.o.subnet;
    const up = keyValues(
      (
        await this.#agent(
          ['up', `${s.gateway}/${s.cidr.split('/')[1]}`, s.dhcpFirst, s.dhcpLast, s.netmask],
          t,
        )
      ).stdout,
    );
    log('%s: AP %s up on %s in the board (%s)', this.o.board, this.ssid, radios.ap_iface, s.cidr);
    return { bssid: up.bssid };
  }

  async #sh(cmd: string, t: { timeoutMs: number; signal?: AbortSignal }): Promise<CommandResult> {
    if (!this.#dut) throw new InfraError(`${this.o.board}: the virtual access point is not up`);
    return this.#dut.exec(cmd, t);
  }

  /** Runs agent.sh; exit 3 is the image's fault (it cannot drive the radio), any other the rig's. */
  async #agent(args: string[], t: { timeoutMs: number; signal?: AbortSignal }): Promise<CommandResult> {
    const r = await this.#sh(`${AGENT_DIR}/busybox sh ${AGENT_DIR}/agent.sh ${args.join(' ')}`, t);
    if (r.code === 0 || args[0] === 'ping') return r;
    const why = (r.stderr || r.stdout).trim().replace(/\s*\n\s*/g, ' | ');
    const ctx = { board: this.o.board, command: `agent.sh ${args[0]}` };
    if (r.code === 3) throw new FailError(`the image cannot drive the virtual board's radio: ${why}`, ctx);
    throw new InfraError(`virtual access point: agent.sh ${args[0]} (exit ${r.code}): ${why}`, ctx);
  }

  #t(opts: { timeoutMs: number; signal?: AbortSignal }) {
    return { timeoutMs: opts.timeoutMs, signal: opts.signal };
  }

  async stations(opts: { timeoutMs: number; signal?: AbortSignal }) {
    return parseStations((await this.#agent(['stations'], this.#t(opts))).stdout);
  }

  async leases(opts: { timeoutMs: number; signal?: AbortSignal }) {
    return parseDumpleases((await this.#agent(['leases'], this.#t(opts))).stdout);
  }

  async events(mac: string, opts: { timeoutMs: number; signal?: AbortSignal }) {
    return stationEvents((await this.#agent(['log'], this.#t(opts))).stdout, mac);
  }

  ping(address: string, opts: { timeoutMs: number; signal?: AbortSignal }) {
    return this.#agent(['ping', address], this.#t(opts));
  }

  async serve(bytes: number, opts: { timeoutMs: number; signal?: AbortSignal }) {
    const out = keyValues(
      (await this.#agent(['serve', String(bytes), String(HTTP_PORT)], this.#t(opts))).stdout,
    );
    // The server goes with the rest at stop: the board is powered off soon after anyway.
    return { url: out.url, close: () => Promise.resolve() };
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#teardown();
    return this.#stopped;
  }

  /** Stops everything on the board and unplugs the radios; hostapd's output goes to the report. */
  async #teardown(): Promise<void> {
    const dut = this.#dut;
    if (!dut) return;
    // Short: a board that went away takes its AP with it, and an interrupted run powers the board
    // off within seconds (it takes the tmpfs with hostapd.conf along).
    const t = { timeoutMs: this.o.runSignal?.aborted ? 3000 : Math.min(this.o.commandTimeoutMs, 15_000) };
    try {
      const logText = (await this.#agent(['down'], t)).stdout;
      mkdirSync(this.o.logDir, { recursive: true });
      writeFileSync(path.join(this.o.logDir, 'hostapd.log'), mask(logText));
    } catch (err) {
      // The board may be gone already (rebooted, powered off): it takes the AP with it.
      log('%s: virtual AP teardown: %s', this.o.board, errorMessage(err));
    } finally {
      await dut.close().catch(() => {});
    }
  }
}

function keyValues(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]),
  );
}
