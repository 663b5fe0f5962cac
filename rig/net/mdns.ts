import { Bonjour, type Service } from 'bonjour-service';
import { InfraError, TimeoutError } from '../errors.js';
import { logger } from '../log.js';
import { withDeadline } from '../util/abort.js';
import { overlaps } from './subnet.js';

const log = logger('net:mdns');

const MDNS_GROUP = '224.0.0.251';

export interface MdnsScope {
  /** The rig's address on the board's network (the veth end): queries leave through it only. */
  interfaceAddress: string;
  /** Answers from outside this subnet (another board's, the host's) are ignored but quoted. */
  subnet?: string;
}

/** One mDNS answer record as seen on the wire, for error messages. */
export interface SeenAnswer {
  from: string;
  name: string;
  type: string;
  data: string;
}

export interface SshInstance {
  name: string;
  host: string;
  port: number;
  addresses: string[];
}

interface MdnsSocket {
  on(
    event: 'response',
    cb: (packet: { answers?: Answer[]; additionals?: Answer[] }, rinfo: { address: string }) => void,
  ): void;
  on(event: 'warning' | 'error', cb: (err: Error) => void): void;
  query(q: { questions: { name: string; type: string }[] }): void;
}
interface Answer {
  name: string;
  type: string;
  data: unknown;
}

/**
 * A bonjour-service instance bound to the board's network only. The socket is bound to the mDNS
 * group address (so it receives multicast and nothing addressed to the host's own addresses),
 * joins the group on the rig's veth address only, and sends through it only: no query ever
 * leaves on the host's other interfaces.
 */
function open(scope: MdnsScope): { bonjour: Bonjour; mdns: MdnsSocket; seen: SeenAnswer[]; errors: Error[] } {
  const errors: Error[] = [];
  const bonjour = new Bonjour(
    { interface: scope.interfaceAddress, bind: MDNS_GROUP } as never,
    (err: Error) => {
      errors.push(err);
    },
  );
  const mdns = (bonjour as unknown as { server: { mdns: MdnsSocket } }).server.mdns;
  const seen: SeenAnswer[] = [];
  mdns.on('error', (err) => errors.push(err));
  mdns.on('warning', (err) => log('warning: %s', err.message));
  mdns.on('response', (packet, rinfo) => {
    for (const a of [...(packet.answers ?? []), ...(packet.additionals ?? [])]) {
      const data = typeof a.data === 'string' ? a.data : JSON.stringify(a.data);
      seen.push({ from: rinfo.address, name: a.name, type: a.type, data });
    }
  });
  return { bonjour, mdns, seen, errors };
}

/** A timeout's message is built when it fires, so it quotes every answer seen until then. */
function explain(err: unknown, what: string, seen: readonly SeenAnswer[], errors: readonly Error[]): unknown {
  if (!(err instanceof TimeoutError)) return err;
  const socket = errors.length ? ` (socket: ${errors[0].message})` : '';
  return new TimeoutError('fail', `${what}: ${quoteAnswers(seen)}${socket}`, err.context);
}

function close(bonjour: Bonjour): Promise<void> {
  return new Promise((resolve) => bonjour.destroy(() => resolve()));
}

function inScope(scope: MdnsScope, from: string): boolean {
  return !scope.subnet || overlaps(`${from}/32`, scope.subnet);
}

export function quoteAnswers(seen: readonly SeenAnswer[]): string {
  if (seen.length === 0) return 'no mDNS answer at all';
  const lines = [...new Set(seen.map((a) => `${a.from}: ${a.name} ${a.type} ${a.data}`))];
  return `answers seen: ${lines.slice(-12).join('; ')}`;
}

/** Resolves `<hostname>.local` to an IPv4 address by multicast DNS, on the board's network only. */
export async function resolveMdns(
  hostname: string,
  scope: MdnsScope,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<string> {
  const name = hostname.endsWith('.local') ? hostname : `${hostname}.local`;
  const { bonjour, mdns, seen, errors } = open(scope);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await withDeadline(
      () =>
        new Promise<string>((resolve, reject) => {
          mdns.on('response', (packet, rinfo) => {
            if (!inScope(scope, rinfo.address)) return;
            const hit = [...(packet.answers ?? []), ...(packet.additionals ?? [])].find(
              (a) => a.type === 'A' && a.name.toLowerCase() === name.toLowerCase(),
            );
            if (hit) resolve(String(hit.data));
          });
          mdns.on('error', (err) =>
            reject(new InfraError(`mDNS socket on ${scope.interfaceAddress}: ${err.message}`)),
          );
          // Queries are repeated with a back-off (RFC 6762 5.2): a first one may leave before the link is up.
          let delay = 500;
          const ask = () => {
            mdns.query({ questions: [{ name, type: 'A' }] });
            timer = setTimeout(ask, (delay = Math.min(delay * 2, 4000)));
          };
          ask();
        }),
      {
        timeoutMs: opts.timeoutMs,
        signal: opts.signal,
        errorClass: 'fail',
        message: name,
        context: () => ({ seen: seen.map((a) => `${a.from}: ${a.name} ${a.type} ${a.data}`) }),
      },
    );
  } catch (err) {
    throw explain(
      err,
      `${name} did not resolve over mDNS on ${scope.interfaceAddress} in ${opts.timeoutMs} ms`,
      seen,
      errors,
    );
  } finally {
    clearTimeout(timer);
    await close(bonjour);
  }
}

/** Browses `_ssh._tcp` on the board's network (see browseService). */
export function browseSsh(
  scope: MdnsScope,
  opts: { timeoutMs: number; signal?: AbortSignal; host?: string },
): Promise<SshInstance[]> {
  return browseService(scope, '_ssh._tcp', opts);
}

/**
 * Browses a DNS-SD service type (`_ssh._tcp`, `_http._tcp` ...) on the board's network; resolves
 * once an instance (on `host`, when given) is seen with its address, with every instance seen so far.
 */
export async function browseService(
  scope: MdnsScope,
  service: string,
  opts: { timeoutMs: number; signal?: AbortSignal; host?: string },
): Promise<SshInstance[]> {
  const m = /^_([A-Za-z0-9-]+)\._(tcp|udp)$/.exec(service);
  if (!m) throw new InfraError(`mDNS: "${service}" is not a service type like _ssh._tcp`);
  const { bonjour, mdns, seen, errors } = open(scope);
  const found = new Map<string, SshInstance>();
  const wanted = opts.host?.replace(/\.local$/, '').toLowerCase();
  const browser = bonjour.find({ type: m[1], protocol: m[2] as 'tcp' | 'udp' });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await withDeadline(
      () =>
        new Promise<SshInstance[]>((resolve) => {
          const check = () => {
            const hit = [...found.values()].some(
              (i) =>
                (!wanted || i.host.toLowerCase().replace(/\.local\.?$/, '') === wanted) &&
                i.addresses.length > 0,
            );
            if (hit) resolve([...found.values()]);
          };
          const onUp = (s: Service) => {
            const from = s.referer?.address ?? '';
            if (from && !inScope(scope, from)) return;
            const inst = {
              name: s.name,
              host: s.host,
              port: s.port,
              addresses: (s.addresses ?? []).filter((a) => a.includes('.')),
            };
            found.set(`${s.name}@${s.host}`, inst);
            check();
          };
          // A responder skips records it multicast less than a second ago (RFC 6762 6): ask again,
          // with a back-off, for the service and for the A record of hosts seen without one.
          let delay = 1000;
          const again = () => {
            browser.update();
            for (const inst of found.values()) {
              if (inst.addresses.length === 0) mdns.query({ questions: [{ name: inst.host, type: 'A' }] });
            }
            timer = setTimeout(again, (delay = Math.min(delay * 2, 4000)));
          };
          timer = setTimeout(again, delay);
          mdns.on('response', (packet, rinfo) => {
            if (!inScope(scope, rinfo.address)) return;
            for (const a of [...(packet.answers ?? []), ...(packet.additionals ?? [])]) {
              if (a.type !== 'A') continue;
              for (const inst of found.values()) {
                if (
                  inst.host.toLowerCase() === a.name.toLowerCase() &&
                  !inst.addresses.includes(String(a.data))
                ) {
                  inst.addresses.push(String(a.data));
                }
              }
            }
            check();
          });
          browser.on('up', onUp);
          browser.on('srv-update', onUp);
        }),
      {
        timeoutMs: opts.timeoutMs,
        signal: opts.signal,
        errorClass: 'fail',
        message: service,
        context: () => ({ seen: seen.map((a) => `${a.from}: ${a.name} ${a.type} ${a.data}`) }),
      },
    );
  } catch (err) {
    const what = `no ${service} instance${wanted ? ` on ${wanted}.local` : ''} with an IPv4 address in ${opts.timeoutMs} ms on ${scope.interfaceAddress}`;
    throw explain(err, what, seen, errors);
  } finally {
    clearTimeout(timer);
    browser.stop();
    await close(bonjour);
  }
}
