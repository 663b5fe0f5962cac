import type { BoardNetwork } from '../suite-api/contracts.js';
import type { Lease } from './dnsmasq.js';
import type { RunHostKeys } from './ssh.js';
import type { SubnetPlan } from './subnet.js';

/**
 * A board network the rig runs for a virtual board (a namespace with dnsmasq, or QEMU user-mode),
 * as the run holds it: the suites' `BoardNetwork`, plus what QEMU needs and the teardown.
 */
export interface VirtualNetwork extends BoardNetwork {
  /** QEMU's `-netdev`/`-device` arguments for the board's NIC. */
  readonly qemuNetArgs: string[];
  /** Command prefix QEMU must run under (`ip netns exec hwt-...`), so it opens the namespace's tap. */
  readonly wrapper: string[];
  readonly mac: string;
  /** The namespace and its bridge (netns kind), e.g. for a test's extra DHCP client. */
  readonly netns?: string;
  readonly bridge?: string;
  readonly subnet?: SubnetPlan;
  /** The name the board resolves through the DHCP-provided DNS, and its address. */
  readonly rigName?: { name: string; address: string };
  readonly hostKeys: RunHostKeys;
  waitForLease?(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Lease>;
  teardown(): Promise<void>;
}
