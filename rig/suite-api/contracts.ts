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

/** The rig's WiFi access point for this run (its credentials were configured into the image). */
export interface WifiAccessPoint {
  readonly ssid: string;
  readonly subnet: string;
  readonly rigAddress: string;
  readonly iface?: string;
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
  /** The rig's WiFi access point for this run, when the lab file gives the board one (`accessPoint`). */
  readonly wifi?: WifiAccessPoint;
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
