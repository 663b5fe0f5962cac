import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Dut } from '../suite-api/contracts.js';
import { InfraError } from '../errors.js';
import { RunHostKeys, sshConnect } from './ssh.js';
import type { SshKey } from './ssh-key.js';
import type { VirtualNetwork } from './network.js';

/** A free TCP port on 127.0.0.1 (for QEMU's hostfwd). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * QEMU user-mode networking (slirp), when no namespace can be made: SSH through a host port
 * forward on 127.0.0.1. Slirp carries no multicast and keeps no lease file, so mDNS and the
 * rig-side lease check cannot run; `mdnsUnavailable` says why.
 */
export async function createUserNetwork(opts: {
  board: string;
  nicModel: string;
  sshKey: SshKey;
  reason: string;
  /** The OS profile's SSH user and port, and its password when it logs in with one (ssh.password). */
  ssh?: { user: string; port: number; password?: string };
}): Promise<VirtualNetwork> {
  const port = await freePort();
  const mac = ['52', '54', '00', ...randomBytes(3).toString('hex').match(/../g)!].join(':');
  const hostKeys = new RunHostKeys();
  const mdnsUnavailable = `QEMU user-mode networking (${opts.reason}): slirp carries no multicast, so mDNS cannot run`;
  const noMdns = () => Promise.reject(new InfraError(mdnsUnavailable, { board: opts.board }));
  return {
    kind: 'user',
    mdnsUnavailable,
    gateway: '10.0.2.2',
    mac,
    hostKeys,
    wrapper: [],
    qemuNetArgs: [
      '-netdev',
      `user,id=net0,hostfwd=tcp:127.0.0.1:${port}-:${opts.ssh?.port ?? 22}`,
      '-device',
      `${opts.nicModel},netdev=net0,mac=${mac}`,
    ],
    leases: () => Promise.resolve(undefined),
    resolveMdns: noMdns,
    browseSsh: noMdns,
    browse: noMdns,
    connect(o: { host?: string; timeoutMs: number; signal?: AbortSignal }): Promise<Dut> {
      return sshConnect(
        {
          host: o.host ?? '127.0.0.1',
          port,
          username: opts.ssh?.user ?? 'root',
          password: opts.ssh?.password,
          key: opts.sshKey,
          hostKeys,
          board: opts.board,
        },
        o,
      );
    },
    teardown: () => Promise.resolve(),
  };
}
