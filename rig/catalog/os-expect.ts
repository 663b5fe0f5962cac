import type { ConfigItem, NetworkTool, OsProfile } from './os-profile.js';

/**
 * What a run may expect of the OS under test, derived from its profile and the run alone: the
 * suites ask these questions, never the OS's name. Each "no" carries the reason a skipped check
 * reports, naming the profile field that would make it possible.
 */

/** The items the profile's provisioning method can write into an image. */
export function configurableItems(os: OsProfile): Set<ConfigItem> {
  const c = os.configure;
  const out = new Set<ConfigItem>();
  if (!c || c.method === 'none') return out;
  const files = c.files ?? {};
  if (c.method === 'fat-files' || c.method === 'ext-files') {
    for (const k of Object.keys(files) as ConfigItem[]) if (files[k]) out.add(k);
    if (!c.wifiTemplate) out.delete('wifi');
  } else if (c.method === 'json-config') {
    const f = c.json?.fields ?? {};
    if (f.hostname) out.add('hostname');
    if (f.authorizedKeys) out.add('authorizedKeys');
    if (f.devMode) out.add('devMode');
    if ((f.wifiSsid && f.wifiPsk) || (files.wifi && c.wifiTemplate)) out.add('wifi');
  } else if (c.method === 'rpi-boot') {
    // custom.toml takes the hostname, the SSH keys and the WiFi network.
    for (const k of ['hostname', 'authorizedKeys', 'wifi'] as const) out.add(k);
  }
  return out;
}

export type HostnameExpectation =
  /** A name known before boot: configured by this run, or the profile's default. */
  | { kind: 'known'; name: string; source: string }
  /** Read from the board with the profile's command once it is up. */
  | { kind: 'read'; command: string; source: string }
  | { kind: 'unknown'; reason: string };

/**
 * The hostname the board must announce (DHCP, mDNS) and report (SSH): the run's own when the
 * profile can configure it, else the profile's `defaultHostname`, else what `commands.hostname`
 * prints on the board, else none (those checks are skipped with the reason).
 */
export function hostnameExpectation(os: OsProfile, runHostname: string): HostnameExpectation {
  if (configurableItems(os).has('hostname'))
    return {
      kind: 'known',
      name: runHostname,
      source: `configured into the image for this run (${os.configure!.method})`,
    };
  const why = `the OS profile ${os.name} cannot configure a hostname (configure.method ${os.configure?.method ?? 'absent'})`;
  if (os.defaultHostname)
    return { kind: 'known', name: os.defaultHostname, source: `the profile's defaultHostname: ${why}` };
  if (os.commands.hostname)
    return {
      kind: 'read',
      command: os.commands.hostname,
      source: `read on the board with commands.hostname: ${why}`,
    };
  return {
    kind: 'unknown',
    reason: `${why} and gives neither defaultHostname nor commands.hostname, so no hostname can be expected`,
  };
}

export function hasTool(os: OsProfile, tool: NetworkTool): boolean {
  return (os.network?.tools ?? []).includes(tool);
}

export function missingTool(os: OsProfile, tools: NetworkTool[], what: string): string {
  return `${what} needs ${tools.join(' or ')} on the board, and the OS profile ${os.name} lists ${tools.length > 1 ? 'none of them' : 'no such tool'} in network.tools`;
}

export interface NameLookup {
  tool: NetworkTool;
  command: string;
}

/** How the board looks a name up, with the first of getent, resolvectl, nslookup the profile lists. */
export function nameLookup(os: OsProfile, name: string): NameLookup | undefined {
  const commands: [NetworkTool, string][] = [
    ['getent', `getent hosts ${name}`],
    ['resolvectl', `resolvectl query ${name}`],
    ['nslookup', `nslookup ${name}`],
  ];
  const hit = (os.network?.tools ?? [])
    .map((t) => commands.find(([tool]) => tool === t))
    .find((c) => c !== undefined);
  return hit && { tool: hit[0], command: hit[1] };
}

/** The command that prints the board's IPv4 address (`inet A.B.C.D/N`), or why there is none. */
export function addressCommand(os: OsProfile): { command: string } | { reason: string } {
  if (os.commands.ipAddr) return { command: os.commands.ipAddr };
  if (!hasTool(os, 'ip'))
    return {
      reason: `${missingTool(os, ['ip'], 'reading the address on the console')} and has no commands.ipAddr`,
    };
  const iface = os.network?.interface;
  return { command: iface ? `ip -4 -o addr show dev ${iface}` : 'ip -4 -o addr show scope global' };
}

/** The name the board announces before any suite runs (a lab network finds it by it). */
export function announcedHostname(os: OsProfile, runHostname: string): string {
  const e = hostnameExpectation(os, runHostname);
  return e.kind === 'known' ? e.name : runHostname;
}

/** How the rig logs in over SSH: the profile's user and port, and its password when it has one. */
export function sshLogin(os: OsProfile): { user: string; port: number; password?: string } {
  return { user: os.ssh.user, port: os.ssh.port, ...(os.ssh.password ? { password: os.ssh.password } : {}) };
}
