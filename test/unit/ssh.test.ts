import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { mask } from '../../rig/log.js';
import { startReplaySshServer, type ReplaySshServer } from '../../rig/sim/ssh-replay-server.js';
import { RunHostKeys, sshConnect, type SshDut } from '../../rig/net/ssh.js';
import { generateRunKey, loadPrivateKey, type SshKey } from '../../rig/net/ssh-key.js';
import { freePort } from '../../rig/net/user-network.js';

describe('ssh2 client against a local ssh2 server', function () {
  this.timeout(20_000);
  let key: SshKey;
  let server: ReplaySshServer;
  const duts: SshDut[] = [];
  const servers: ReplaySshServer[] = [];

  const reply = (command: string) => {
    if (command === 'true') return { code: 0 };
    if (command === 'exit 3') return { code: 3, stderr: 'three\n' };
    if (command === 'uname -n') return { stdout: 'hwtest\n' };
    return undefined;
  };
  const target = (port: number, k: SshKey, hostKeys = new RunHostKeys()) => ({
    host: '127.0.0.1',
    port,
    username: 'root',
    key: k,
    hostKeys,
    board: 'unit',
  });
  const start = async (o: Partial<Parameters<typeof startReplaySshServer>[0]> = {}) => {
    const s = await startReplaySshServer({ authorizedKey: key.publicKey, reply, ...o });
    servers.push(s);
    return s;
  };

  beforeEach(async () => {
    key = generateRunKey();
    server = await start();
  });
  afterEach(async () => {
    for (const d of duts.splice(0)) await d.close();
    for (const s of servers.splice(0)) await s.close();
  });

  it('logs in with the run key and returns exit codes and output', async () => {
    const dut = await sshConnect(target(server.port, key), { timeoutMs: 5000 });
    duts.push(dut);
    expect(await dut.exec('uname -n')).to.deep.equal({ code: 0, stdout: 'hwtest\n', stderr: '' });
    expect(await dut.exec('exit 3')).to.include({ code: 3, stderr: 'three\n' });
    expect((await dut.exec('no-such-tool')).code).to.equal(127);
  });

  it("logs in with the OS profile's password when the board does not know the key", async () => {
    const withPassword = await start({ password: 'a-board-password' });
    const stranger = generateRunKey();
    const dut = await sshConnect(
      { ...target(withPassword.port, stranger), password: 'a-board-password' },
      { timeoutMs: 5000 },
    );
    duts.push(dut);
    expect((await dut.exec('true')).code).to.equal(0);
    const refused = await sshConnect(
      { ...target(withPassword.port, stranger), password: 'not-it' },
      { timeoutMs: 1500 },
    ).then(
      () => 'logged in',
      (e: Error) => e.message,
    );
    expect(refused).to.match(/no login in 1500 ms .*All configured authentication methods failed/);
  });

  it('puts a file over sftp, byte for byte', async () => {
    const dut = await sshConnect(target(server.port, key), { timeoutMs: 5000 });
    duts.push(dut);
    const dir = mkdtempSync(path.join(tmpdir(), 'hwt-ssh-'));
    const file = path.join(dir, 'blob');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(file, data);
    await dut.put(file, '/tmp/blob');
    rmSync(dir, { recursive: true });
    expect(dut.lastPutMethod).to.equal('sftp');
    expect(sha(server.files.get('/tmp/blob')!)).to.equal(sha(data));
  });

  it('falls back to cat over exec when the board has no sftp-server (dropbear), and says so', async () => {
    const bare = await start({ sftp: false });
    const dut = await sshConnect(target(bare.port, key), { timeoutMs: 5000 });
    duts.push(dut);
    const data = randomBytes(1024 * 1024);
    await dut.put(data, '/tmp/x y');
    expect(dut.lastPutMethod).to.equal('exec-cat');
    expect(dut.sftpUnavailable).to.be.a('string').and.not.empty;
    expect(bare.commands).to.include(`cat > '/tmp/x y'`);
    expect(sha(bare.files.get('/tmp/x y')!)).to.equal(sha(data));
  });

  it('refuses a key the board does not have, quoting the last error when the time runs out', async () => {
    const other = generateRunKey();
    const err = await sshConnect(target(server.port, other), { timeoutMs: 2500 }).catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(
      /ssh root@127\.0\.0\.1:\d+: no login in 2500 ms \(\d+ attempts\), last error: All configured authentication methods failed/,
    );
  });

  it('retries until the board listens, quoting connection refused when it never does', async () => {
    const port = await freePort();
    const err = await sshConnect(target(port, key), { timeoutMs: 2000 }).catch((e: Error) => e);
    expect((err as Error).message).to.match(/last error: connect ECONNREFUSED 127\.0\.0\.1/);
  });

  it('accepts a host key per run, refuses a changed one within the run, and never touches ~/.ssh', async () => {
    const knownHosts = path.join(homedir(), '.ssh', 'known_hosts');
    const before = existsSync(knownHosts) ? statSync(knownHosts).mtimeMs : undefined;
    const hostKeys = new RunHostKeys();
    duts.push(await sshConnect(target(server.port, key, hostKeys), { timeoutMs: 5000 }));
    duts.push(await sshConnect(target(server.port, key, hostKeys), { timeoutMs: 5000 }));
    expect(hostKeys.get(`127.0.0.1:${server.port}`)).to.match(/^SHA256:/);
    // The same address now answers with another host key (a reflash without telling the run).
    const port = server.port;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const reflashed = await startReplaySshServerOn(port, key);
    servers.push(reflashed);
    const err = await sshConnect(target(port, key, hostKeys), { timeoutMs: 5000 }).catch((e: Error) => e);
    expect((err as Error).message).to.match(/host key changed within the run/);
    // After a reflash the run forgets the old key and accepts the new one.
    hostKeys.forget(`127.0.0.1:${port}`);
    duts.push(await sshConnect(target(port, key, hostKeys), { timeoutMs: 5000 }));
    const after = existsSync(knownHosts) ? statSync(knownHosts).mtimeMs : undefined;
    expect(after).to.equal(before);
  });

  it('registers the private key as a secret: logs mask it', () => {
    const k = generateRunKey();
    expect(mask(`key: ${k.privateKey}`)).to.not.include(k.privateKey);
    const body = k.privateKey.split('\n')[1];
    expect(mask(body)).to.equal('********');
    const dir = mkdtempSync(path.join(tmpdir(), 'hwt-key-'));
    writeFileSync(path.join(dir, 'id'), generateRunKey().privateKey);
    const loaded = loadPrivateKey(path.join(dir, 'id'));
    expect(loaded.publicKey).to.match(/^ssh-ed25519 AAAA/);
    expect(mask(readFileSync(path.join(dir, 'id'), 'utf8'))).to.not.include(loaded.privateKey.split('\n')[1]);
    rmSync(dir, { recursive: true });
  });
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A server with a fresh host key on a given port (the replay server picks a free one otherwise). */
async function startReplaySshServerOn(port: number, key: SshKey): Promise<ReplaySshServer> {
  const s = await startReplaySshServer({
    authorizedKey: key.publicKey,
    reply: () => ({ code: 0 }),
    listenPort: port,
  });
  return s;
}

describe('run keys', function () {
  it('every generated pair parses, its public half matching the private one (ssh2 alone gets about 1 in 256 wrong)', function () {
    this.timeout(30_000);
    // 3000 pairs: without the check, a malformed one turns up with probability 1 - (255/256)^3000 > 99.99%.
    for (let i = 0; i < 3000; i++) {
      const k = generateRunKey(`k${i}`);
      const priv = ssh2.utils.parseKey(k.privateKey);
      const pub = ssh2.utils.parseKey(k.publicKey);
      if (priv instanceof Error) expect.fail(`pair ${i}: ${priv.message}`);
      if (pub instanceof Error) expect.fail(`pair ${i}: ${pub.message}`);
      expect(pub.getPublicSSH().equals(priv.getPublicSSH()), `pair ${i}`).to.equal(true);
    }
  });
});
