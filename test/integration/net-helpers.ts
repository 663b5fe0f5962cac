/** Test plumbing for the network tests: client namespaces on a board network's bridge, avahi in them. */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function trySh(cmd: string, args: string[]): void {
  try {
    sh(cmd, args);
  } catch {
    // teardown: already gone
  }
}

/** Why namespace tests cannot run here, or undefined. */
export function netnsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  for (const tool of ['ip', 'dnsmasq', 'busybox']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

export function hostLinks(): string[] {
  return sh('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter(Boolean);
}

export function namespaces(): string[] {
  return sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/**
 * A "board" namespace joined to `bridgeNs`'s bridge by a veth: stands in for QEMU's NIC, with the
 * given MAC. Its interface is `eth0`, like the board's.
 */
export function attachClient(name: string, bridgeNs: string, bridge: string, mac: string): () => void {
  const peer = `hwtc${Math.random().toString(16).slice(2, 8)}`;
  sh('ip', ['netns', 'add', name]);
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  sh('ip', [
    'link',
    'add',
    peer,
    'netns',
    bridgeNs,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    name,
    'address',
    mac,
  ]);
  sh('ip', ['-n', bridgeNs, 'link', 'set', peer, 'master', bridge, 'up']);
  sh('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
  return () => trySh('ip', ['netns', 'del', name]);
}

/** busybox udhcpc in namespace `ns`: configures eth0 from the lease, returns what the server gave. */
export function udhcpc(
  ns: string,
  hostname: string,
): { ip: string; router: string; dns: string; domain: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'hwt-udhcpc-'));
  const script = path.join(dir, 'script.sh');
  const out = path.join(dir, 'lease');
  writeFileSync(
    script,
    `#!/bin/sh\nif [ "$1" = bound ]; then ip addr add "$ip/$mask" dev "$interface"; echo "$ip|$router|$dns|$domain" > ${out}; fi\n`,
  );
  chmodSync(script, 0o755);
  try {
    sh('ip', [
      'netns',
      'exec',
      ns,
      'busybox',
      'udhcpc',
      '-i',
      'eth0',
      '-f',
      '-q',
      '-n',
      '-t',
      '5',
      '-T',
      '2',
      '-x',
      `hostname:${hostname}`,
      '-s',
      script,
    ]);
    const [ip, router, dns, domain] = sh('cat', [out]).trim().split('|');
    return { ip: ip, router: router, dns: dns, domain: domain };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * avahi-daemon in namespace `ns`, publishing `<hostname>.local` and `_ssh._tcp` on eth0, as the
 * reference OS does. It runs in a private mount namespace so its pid file and service folder are
 * its own (several may run at once, and the host's /etc/avahi stays untouched).
 */
export interface Responder {
  stop(): Promise<void>;
  log(): string;
}

/**
 * An mDNS responder for `<hostname>.local` and `_ssh._tcp` in namespace `ns`: avahi-daemon, as on
 * the reference OS, when the host has it (`HW_TEST_MDNS_RESPONDER=bonjour` forces the other);
 * otherwise bonjour-service in a node process inside the namespace. Installing avahi on a host
 * with systemd would start it on the host's own interfaces, so the setup does not require it.
 */
export function startResponder(ns: string, hostname: string): Promise<Responder> {
  const hasAvahi = spawnSync('sh', ['-c', 'command -v avahi-daemon']).status === 0;
  if (hasAvahi && process.env.HW_TEST_MDNS_RESPONDER !== 'bonjour') return startAvahi(ns, hostname);
  return startBonjourResponder(ns, hostname);
}

async function startBonjourResponder(ns: string, hostname: string): Promise<Responder> {
  const require = createRequire(import.meta.url);
  const bonjourPath = require.resolve('bonjour-service');
  const script = `
    const { Bonjour } = require(${JSON.stringify(bonjourPath)});
    // The namespace has no route for multicast: send through eth0's address explicitly.
    const eth0 = (require('node:os').networkInterfaces().eth0 || []).find((a) => a.family === 'IPv4');
    const b = new Bonjour({ interface: eth0.address, bind: '0.0.0.0' }, (e) => { console.error('error', e.message); process.exit(1); });
    const s = b.publish({ name: ${JSON.stringify(hostname)}, type: 'ssh', port: 22, host: ${JSON.stringify(`${hostname}.local`)}, disableIPv6: true, probe: false });
    s.on('up', () => console.log('published'));
    process.on('SIGTERM', () => b.unpublishAll(() => b.destroy(() => process.exit(0))));`;
  return startChild(['ip', 'netns', 'exec', ns, process.execPath, '-e', script], /published/);
}

async function startChild(argv: string[], ready: RegExp, onStop?: () => void): Promise<Responder> {
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      log += b.toString();
      if (ready.test(log)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`${argv.join(' ').slice(0, 80)} exited: ${log}`)));
  });
  return {
    log: () => log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      onStop?.();
    },
  };
}

export async function startAvahi(ns: string, hostname: string): Promise<Responder> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hwt-avahi-'));
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(
    path.join(dir, 'avahi-daemon.conf'),
    `[server]\nhost-name=${hostname}\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=eth0\nenable-dbus=no\n[wide-area]\nenable-wide-area=no\n[publish]\npublish-addresses=yes\npublish-hinfo=no\npublish-workstation=no\n[reflector]\n[rlimits]\n`,
  );
  writeFileSync(
    path.join(dir, 'services', 'ssh.service'),
    `<?xml version="1.0" standalone='no'?>\n<!DOCTYPE service-group SYSTEM "avahi-service.dtd">\n<service-group><name replace-wildcards="yes">%h</name><service><type>_ssh._tcp</type><port>22</port></service></service-group>\n`,
  );
  const inner = `mkdir -p /run/avahi-daemon && mount -t tmpfs tmpfs /run/avahi-daemon && mount --bind ${dir}/services /etc/avahi/services && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f ${dir}/avahi-daemon.conf`;
  return startChild(
    ['ip', 'netns', 'exec', ns, 'unshare', '--mount', 'sh', '-c', inner],
    /Server startup complete/,
    () => rmSync(dir, { recursive: true, force: true }),
  );
}
