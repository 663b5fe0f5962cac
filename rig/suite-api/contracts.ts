/**
 * The board contracts a suite works with: the live board through interfaces only, never a
 * driver. The runner implements them (rig/board, rig/net); suites, built-in or the user's, read
 * them through `rig()` (./context.ts).
 */
import type { BoardType } from '../catalog/board.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { Console } from '../console/console.js';
import type { PowerSwitch } from '../power/power-switch.js';

export type BootStage = 'bootloader' | 'kernel' | 'userspace' | 'login' | 'shell';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The board's console shell, after login. */
export interface ConsoleShell {
  /** Runs a command, waits for its exit code (a marker line), returns its output. */
  run(command: string, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<CommandResult>;
}

/** The boot, as a state machine the boot suite walks stage by stage and other suites take whole. */
export interface BootSession {
  /** Powers on if needed and waits for the stage (idempotent; stages are reached in order). */
  reach(stage: BootStage, signal?: AbortSignal): Promise<void>;
  /** Stage -> ms since power on. */
  readonly timings: ReadonlyMap<BootStage, number>;
  /** The boot failed earlier in this run: the error, so later suites can skip with its reason. */
  readonly failure: Error | undefined;
  shell(signal?: AbortSignal): Promise<ConsoleShell>;
  /** Power cycle and start a fresh boot session (stages reached again). */
  reboot(opts?: { hard?: boolean; signal?: AbortSignal }): Promise<void>;
  /** Forget the current boot (e.g. the board rebooted on its own) and watch for the next one. */
  expectReboot(): void;
}

/** A board booted and on a network: reached over SSH (ssh2) and mDNS (bonjour-service). */
export interface Dut {
  readonly address: string;
  exec(command: string, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<CommandResult>;
  put(local: string | Buffer, remote: string, opts?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

/** The board's network as the rig sees it (issue: network suite). */
export interface BoardNetwork {
  /** 'netns': a real L2 network in a namespace (DHCP, DNS, mDNS real); 'user': QEMU user-mode. */
  readonly kind: 'netns' | 'user' | 'lab';
  /** Why mDNS (or another check) cannot run on this network, or undefined when it can. */
  readonly mdnsUnavailable?: string;
  readonly gateway?: string;
  /** The DHCP server's lease file content (dnsmasq), when the rig runs the server. */
  leases(): Promise<string | undefined>;
  /** Resolves `<hostname>.local` over multicast DNS on the board's network only. */
  resolveMdns(hostname: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<string>;
  /** Browses `_ssh._tcp` on the board's network; resolves with the instances seen. */
  browseSsh(opts: {
    timeoutMs: number;
    signal?: AbortSignal;
  }): Promise<{ name: string; host: string; port: number; addresses: string[] }[]>;
  /** Browses any DNS-SD service type (`_http._tcp` ...), as browseSsh does `_ssh._tcp`. */
  browse?(
    service: string,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ name: string; host: string; port: number; addresses: string[] }[]>;
  /** Opens SSH to the board with the run's key; host keys are accepted per run, never saved. */
  connect(opts: { host?: string; timeoutMs: number; signal?: AbortSignal }): Promise<Dut>;
  /** Waits for the board's DHCP lease in the rig's DHCP server (absent when the rig runs none). */
  waitForLease?(opts: {
    timeoutMs: number;
    signal?: AbortSignal;
  }): Promise<{ mac: string; address: string; hostname?: string }>;
  /** A name the board resolves through the DHCP-provided DNS, and the address it must get. */
  readonly rigName?: { name: string; address: string };
}

/** One station in the access point's table (hostapd's `all_sta`). */
export interface WifiStation {
  mac: string;
  /** hostapd's flags: AUTH, ASSOC, AUTHORIZED (the 4-way handshake completed) ... */
  flags: string[];
}

/** Instead of a result: why the rig cannot see this on its access point (a lab's own AP). */
export interface Unavailable {
  unavailable: string;
}

/**
 * The WiFi network the rig set up for this run, from the rig's side of the air: hostapd on a rig
 * interface (real hardware), hostapd on the virtual board's second simulated radio (virtual
 * boards), or a lab's own access point (fixed mode).
 */
export interface WifiNetwork {
  readonly kind: 'rig' | 'virtual' | 'lab';
  readonly ssid: string;
  /** The AP's subnet, `a.b.c.0/24`. */
  readonly subnet: string;
  /** The rig's address on the AP's network: reached by the board through WiFi only. */
  readonly rigAddress: string;
  /**
   * Brings the AP up for a board that is up and reachable (a virtual board's radios are plugged in
   * here; an AP on real hardware is up before the board boots). Idempotent. Resolves with the
   * BSSID when the rig knows it.
   */
  ready(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<{ bssid?: string }>;
  /** The AP's stations, or why the rig cannot see them. */
  stations(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<WifiStation[] | Unavailable>;
  /** The leases of the AP's DHCP server, or why the rig cannot see them. */
  leases(opts: {
    timeoutMs: number;
    signal?: AbortSignal;
  }): Promise<{ mac: string; address: string; hostname?: string }[] | Unavailable>;
  /** The AP's own log lines about one station (hostapd's), quoted when it does not join. */
  events(mac: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<string[]>;
  /** One ping from the rig's side of the AP to `address`. */
  ping(address: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<CommandResult>;
  /** Serves `bytes` bytes over HTTP on the rig's address on the AP; the board fetches `url`. */
  serve(
    bytes: number,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ url: string; close(): Promise<void> }>;
}

export interface SuiteContext {
  readonly boardName: string;
  readonly type: BoardType;
  readonly os: OsProfile;
  readonly console: Console;
  readonly power: PowerSwitch;
  readonly boot: BootSession;
  /** Present when the run set a network up for the board (a suite whose manifest says `network`). */
  readonly network?: BoardNetwork;
  /** The rig's WiFi network for this run, on a board with the suite's capabilities (`accessPoint`). */
  readonly wifi?: WifiNetwork;
  /** The hostname configured into the image for this run. */
  readonly hostname: string;
  /** The artifacts the run prepared for the suites' manifests, by name (e.g. `update:v2`). */
  readonly artifacts: ReadonlyMap<string, string>;
  /** Records a measurement on the current test (shown in the report, kept for trends). */
  metric(name: string, value: number): void;
  /** Records why the current test is skipped; call `skipBecause(this, reason)` rather than this. */
  skip(reason: string): void;
  /** Attaches text to the current test's report. */
  attach(name: string, content: string, type?: string): void;
  readonly signal: AbortSignal;
  /** The suites' options given on the command line (their manifests' `options`, e.g. `--cuts N`). */
  readonly options: Readonly<Record<string, string>>;
}
