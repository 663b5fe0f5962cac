/** IPv4 arithmetic for choosing a private /24 per board that collides with nothing on the host. */

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `10.0.0.0/8` -> [first, last] as integers; a bare address is a /32; `default` is everything. */
export function cidrRange(cidr: string): [number, number] {
  if (cidr === 'default') return [0, 0xffffffff];
  const [ip, len = '32'] = cidr.split('/');
  const bits = Number(len);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const first = (ipToInt(ip) & mask) >>> 0;
  return [first, (first | (~mask >>> 0)) >>> 0];
}

export function overlaps(a: string, b: string): boolean {
  const [a0, a1] = cidrRange(a);
  const [b0, b1] = cidrRange(b);
  return a0 <= b1 && b0 <= a1;
}

/** The plan of one board's /24: who gets which address. */
export interface SubnetPlan {
  /** `10.213.7.0/24` */
  cidr: string;
  /** The third octet, the subnet's number in the pool (also the state file's name). */
  index: number;
  /** The namespace's bridge: DHCP server, DNS server and the board's gateway. */
  gateway: string;
  /** The rig's end of the veth, in the host namespace. */
  rig: string;
  dhcpFirst: string;
  dhcpLast: string;
  netmask: string;
}

export function planSubnet(base: string, index: number): SubnetPlan {
  const prefix = `${base}.${index}`;
  return {
    cidr: `${prefix}.0/24`,
    index,
    gateway: `${prefix}.1`,
    rig: `${prefix}.2`,
    dhcpFirst: `${prefix}.100`,
    dhcpLast: `${prefix}.199`,
    netmask: '255.255.255.0',
  };
}

/**
 * Subnet indexes of `base.N.0/24` (N in 1..254) that overlap none of the host's addresses and
 * routes (a default route overlaps everything, so it is left out) and are not taken.
 */
export function freeIndexes(base: string, inUse: readonly string[], taken: ReadonlySet<number>): number[] {
  const used = inUse.filter((c) => c !== 'default' && !c.endsWith('/0'));
  const out: number[] = [];
  for (let n = 1; n <= 254; n++) {
    if (taken.has(n)) continue;
    const cidr = `${base}.${n}.0/24`;
    if (!used.some((u) => overlaps(u, cidr))) out.push(n);
  }
  return out;
}

/**
 * The plan of a given subnet (a lab's own, from its file) where the rig is `gateway`: the DHCP
 * range is .100-.199 on a /24 or wider, else every address but the network's, the broadcast's
 * and the gateway's end.
 */
export function planGivenSubnet(cidr: string, gateway: string): SubnetPlan & { prefix: number } {
  const [first, last] = cidrRange(cidr);
  const prefix = Number(cidr.split('/')[1] ?? 32);
  const wide = last - first >= 255;
  return {
    cidr,
    index: (first >>> 8) & 255,
    gateway,
    rig: gateway,
    dhcpFirst: intToIp(wide ? first + 100 : first + 2),
    dhcpLast: intToIp(wide ? first + 199 : last - 1),
    netmask: intToIp(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0),
    prefix,
  };
}
