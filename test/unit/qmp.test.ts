import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QmpClient, type QmpEvent } from '../../rig/qemu/qmp.js';
import { HwTestError } from '../../rig/errors.js';

/** What QEMU 7.2 sends on connect (`-qmp unix:...,server=on,wait=off`). */
const GREETING = {
  QMP: {
    version: { qemu: { micro: 0, minor: 2, major: 7 }, package: 'Debian 1:7.2+dfsg-7' },
    capabilities: ['oob'],
  },
};

interface Received {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: string;
}

/**
 * A QMP server that behaves like QEMU's monitor: greeting, refuses commands before
 * `qmp_capabilities`, answers by id, emits events, and can drop the connection.
 */
class FakeQmp {
  readonly received: Received[] = [];
  readonly server: Server;
  sockets: Socket[] = [];
  status = 'prelaunch';
  silent = false;

  constructor() {
    this.server = createServer((s) => this.#accept(s));
  }

  listen(file: string): Promise<void> {
    return new Promise((r) => this.server.listen(file, r));
  }

  #accept(s: Socket): void {
    this.sockets.push(s);
    let negotiated = false;
    let buf = '';
    const send = (msg: unknown) => s.write(`${JSON.stringify(msg)}\r\n`);
    send(GREETING);
    s.on('data', (b: Buffer) => {
      buf += b.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as Received;
        buf = buf.slice(nl + 1);
        this.received.push(msg);
        if (this.silent) continue;
        const id = msg.id;
        if (msg.execute === 'qmp_capabilities') {
          negotiated = true;
          send({ return: {}, id });
        } else if (!negotiated) {
          send({
            error: {
              class: 'CommandNotFound',
              desc: "Expecting capabilities negotiation with 'qmp_capabilities'",
            },
            id,
          });
        } else if (msg.execute === 'query-status') {
          send({
            return: { status: this.status, singlestep: false, running: this.status === 'running' },
            id,
          });
        } else if (msg.execute === 'cont') {
          this.status = 'running';
          send({ event: 'RESUME', timestamp: { seconds: 1, microseconds: 2 } });
          send({ return: {}, id });
        } else if (msg.execute === 'system_reset') {
          // QEMU sends the event and the answer in one write, sometimes event first.
          s.write(
            `${JSON.stringify({ event: 'RESET', data: { guest: false, reason: 'host-qmp-system-reset' } })}\r\n${JSON.stringify({ return: {}, id })}\r\n`,
          );
        } else if (msg.execute === 'quit') {
          send({ return: {}, id });
          s.end();
        } else {
          send({
            error: { class: 'CommandNotFound', desc: `The command ${msg.execute} has not been found` },
            id,
          });
        }
      }
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('QmpClient against a QMP server', () => {
  let dir: string;
  let sock: string;
  let fake: FakeQmp;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hwt-qmp-'));
    sock = path.join(dir, 'qmp.sock');
    fake = new FakeQmp();
  });
  afterEach(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the greeting, negotiates capabilities, then runs commands', async () => {
    await fake.listen(sock);
    const qmp = await QmpClient.connect(sock, { timeoutMs: 2000 });
    expect(qmp.greeting).to.deep.equal(GREETING.QMP);
    expect(await qmp.execute('query-status')).to.deep.equal({
      status: 'prelaunch',
      singlestep: false,
      running: false,
    });
    await qmp.execute('cont');
    expect(await qmp.execute('query-status')).to.include({ status: 'running', running: true });
    expect(fake.received.map((r) => r.execute)).to.deep.equal([
      'qmp_capabilities',
      'query-status',
      'cont',
      'query-status',
    ]);
    qmp.close();
  });

  it('waits for a socket that appears late (QEMU still starting)', async () => {
    const connecting = QmpClient.connect(sock, { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    await fake.listen(sock);
    const qmp = await connecting;
    expect(fake.received[0].execute).to.equal('qmp_capabilities');
    qmp.close();
  });

  it('emits events and passes arguments', async () => {
    await fake.listen(sock);
    const qmp = await QmpClient.connect(sock, { timeoutMs: 2000 });
    const events: QmpEvent[] = [];
    qmp.on('event', (e) => events.push(e));
    await qmp.execute('system_reset');
    await qmp.execute('cont');
    expect(events.map((e) => e.event)).to.deep.equal(['RESET', 'RESUME']);
    expect(events[0].data).to.deep.equal({ guest: false, reason: 'host-qmp-system-reset' });
    await qmp.execute('cont', { x: 1 }).catch(() => undefined);
    expect(fake.received.at(-1)!.arguments).to.deep.equal({ x: 1 });
    qmp.close();
  });

  it('turns a QMP error into an infra error naming the command', async () => {
    await fake.listen(sock);
    const qmp = await QmpClient.connect(sock, { timeoutMs: 2000 });
    const err = await qmp.execute('no-such-command').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(HwTestError);
    expect((err as HwTestError).class).to.equal('infra');
    expect((err as HwTestError).message).to.equal(
      'QMP no-such-command: CommandNotFound: The command no-such-command has not been found',
    );
    qmp.close();
  });

  it('rejects pending commands when the connection drops', async () => {
    await fake.listen(sock);
    const qmp = await QmpClient.connect(sock, { timeoutMs: 2000 });
    fake.silent = true;
    const pending = qmp.execute('query-status').then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((r) => setImmediate(r));
    for (const s of fake.sockets) s.destroy();
    const err = (await pending) as HwTestError;
    expect(err.class).to.equal('infra');
    expect(err.message).to.match(/query-status: connection closed/);
    expect(qmp.closed).to.equal(true);
    const after = (await qmp.execute('cont').catch((e: unknown) => e)) as HwTestError;
    expect(after.class).to.equal('infra');
  });

  it('quit answers and the connection closes', async () => {
    await fake.listen(sock);
    const qmp = await QmpClient.connect(sock, { timeoutMs: 2000 });
    const closed = new Promise<void>((r) => qmp.once('close', r));
    await qmp.execute('quit');
    await closed;
    expect(qmp.closed).to.equal(true);
  });

  it('times out as infra when nothing listens', async () => {
    const err = (await QmpClient.connect(sock, { timeoutMs: 100 }).catch((e: unknown) => e)) as HwTestError;
    expect(err.class).to.equal('infra');
    expect(err.message).to.equal(`QMP ${sock}: no answer`);
    expect(err.context.actual).to.equal('the socket never appeared');
  });

  it('gives up at once when QEMU exited', async () => {
    const err = (await QmpClient.connect(sock, { timeoutMs: 60000, giveUp: Promise.resolve() }).catch(
      (e: unknown) => e,
    )) as HwTestError;
    expect(err.class).to.equal('infra');
    expect(err.message).to.match(/QEMU exited before its monitor answered/);
  });

  it('refuses a server that is not QMP', async () => {
    const other = createServer((s) => s.end('SSH-2.0-dropbear\r\n'));
    await new Promise<void>((r) => other.listen(sock, r));
    try {
      const err = (await QmpClient.connect(sock, { timeoutMs: 200 }).catch((e: unknown) => e)) as HwTestError;
      expect(err.class).to.equal('infra');
      expect(err.message).to.equal(`QMP ${sock}: no answer`);
      expect(err.context.actual).to.match(/^not a QMP greeting: SSH-2.0-dropbear/);
    } finally {
      await new Promise((r) => other.close(r));
    }
  });
});
