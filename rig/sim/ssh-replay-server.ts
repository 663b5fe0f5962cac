import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ssh2, {
  type AuthContext,
  type AuthenticationType,
  type Connection,
  type ParsedKey,
  type ServerChannel,
  type SFTPWrapper,
} from 'ssh2';
import { ed25519Pair } from '../net/ssh-key.js';

const { Server, utils } = ssh2;
const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;

/** What the replayed board prints for one command. */
export interface ReplayReply {
  stdout?: string;
  stderr?: string;
  code?: number;
}

export interface ReplaySshOptions {
  /** The only public key let in (OpenSSH line). */
  authorizedKey: string;
  /** Answers a command: recorded output of the real tools; undefined means `sh: not found`, exit 127. */
  reply: (command: string, stdin: Buffer) => ReplayReply | undefined;
  /** false: like dropbear without an sftp-server, the sftp subsystem is refused. */
  sftp?: boolean;
  /** A fixed host key (to simulate a reflashed board, start another server with a new one). */
  hostKey?: string;
  /** Port on 127.0.0.1 (default: any free one). */
  listenPort?: number;
  /** A password let in too (a board whose keys cannot be provisioned: the profile's ssh.password). */
  password?: string;
}

export interface ReplaySshServer {
  readonly port: number;
  readonly host: '127.0.0.1';
  /** Every command run, in order. */
  readonly commands: string[];
  /** Files written over sftp or `cat > FILE`, by remote path. */
  readonly files: Map<string, Buffer>;
  close(): Promise<void>;
}

/**
 * An SSH server on 127.0.0.1 that answers commands with recorded output: a board simulation for
 * testing the SSH client and the board-side checks (WiFi) without a board. A simulation, like the
 * others in rig/sim/: product code with tests, never a stand-in inside a real run.
 */
export async function startReplaySshServer(opts: ReplaySshOptions): Promise<ReplaySshServer> {
  const allowed = utils.parseKey(opts.authorizedKey);
  if (allowed instanceof Error) throw allowed;
  const key = allowed;
  const hostKey = opts.hostKey ?? ed25519Pair().private;
  const commands: string[] = [];
  const files = new Map<string, Buffer>();
  const conns = new Set<Connection>();

  const runExec = (stream: ServerChannel, command: string) => {
    commands.push(command);
    const chunks: Buffer[] = [];
    stream.on('data', (b: Buffer) => chunks.push(b));
    stream.once('end', () => {
      const stdin = Buffer.concat(chunks);
      const cat = /^cat > '([^']+)'$/.exec(command);
      if (cat) files.set(cat[1], stdin);
      const r = cat
        ? { code: 0 }
        : (opts.reply(command, stdin) ?? { stderr: `sh: ${command.split(' ')[0]}: not found\n`, code: 127 });
      if (r.stdout) stream.write(r.stdout);
      if (r.stderr) stream.stderr.write(r.stderr);
      stream.exit(r.code ?? 0);
      stream.end();
    });
  };

  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    conns.add(client);
    client.on('close', () => conns.delete(client));
    client.on('error', () => conns.delete(client));
    client.on('authentication', (ctx) => authenticate(ctx, key, opts.password));
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acc, _rej, info) => runExec(acc(), info.command));
        session.on('sftp', (acc, rej) => {
          if (opts.sftp === false) return rej();
          sftpSink(acc(), files);
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.listenPort ?? 0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    host: '127.0.0.1',
    commands,
    files,
    close: () =>
      new Promise((resolve) => {
        for (const c of conns) c.end();
        server.close(() => resolve());
      }),
  };
}

/** Public-key authentication against the one authorised key (signature checked when sent), or the password when given. */
function authenticate(ctx: AuthContext, key: ParsedKey, password: string | undefined): void {
  const methods: AuthenticationType[] = password === undefined ? ['publickey'] : ['publickey', 'password'];
  if (ctx.method === 'password' && password !== undefined) {
    const given = Buffer.from(ctx.password);
    const want = Buffer.from(password);
    return given.length === want.length && timingSafeEqual(given, want) ? ctx.accept() : ctx.reject(methods);
  }
  if (ctx.method !== 'publickey') return ctx.reject(methods);
  const ok =
    ctx.key.algo === key.type &&
    ctx.key.data.length === key.getPublicSSH().length &&
    timingSafeEqual(ctx.key.data, key.getPublicSSH()) &&
    (!ctx.signature || key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true);
  if (ok) ctx.accept();
  else ctx.reject(methods);
}

/** An SFTP server that only takes writes: each file lands in `files` when it is closed. */
function sftpSink(sftp: SFTPWrapper, files: Map<string, Buffer>): void {
  const open = new Map<string, { path: string; parts: { offset: number; data: Buffer }[] }>();
  let next = 0;
  sftp.on('OPEN', (reqid, filename, flags) => {
    if (!(flags & OPEN_MODE.WRITE)) return sftp.status(reqid, STATUS_CODE.FAILURE);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(next++);
    open.set(h.toString('hex'), { path: filename, parts: [] });
    sftp.handle(reqid, h);
  });
  sftp.on('WRITE', (reqid, handle, offset, data) => {
    const f = open.get(handle.toString('hex'));
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE);
    f.parts.push({ offset, data: Buffer.from(data) });
    sftp.status(reqid, STATUS_CODE.OK);
  });
  sftp.on('FSTAT', (reqid) =>
    sftp.attrs(reqid, { mode: 0o100644, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0 }),
  );
  sftp.on('FSETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK));
  sftp.on('CLOSE', (reqid, handle) => {
    const f = open.get(handle.toString('hex'));
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE);
    open.delete(handle.toString('hex'));
    // Writes may arrive out of order (fastPut keeps several in flight): place them by offset.
    const buf = Buffer.alloc(f.parts.reduce((n, p) => Math.max(n, p.offset + p.data.length), 0));
    for (const p of f.parts) p.data.copy(buf, p.offset);
    files.set(f.path, buf);
    sftp.status(reqid, STATUS_CODE.OK);
  });
}
