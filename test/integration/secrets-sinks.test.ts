import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensureImage } from '../../rig/image/build.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { latestRun } from '../helpers/faults.js';
import { findSecrets } from '../helpers/secrets.js';

const BOARD = 'qemu-x86-64-secrets';

/** Serves one file, only to a client that gives the user and password (HTTP basic auth). */
async function authServer(file: string, user: string, password: string) {
  const want = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const srv = http.createServer((req, res) => {
    if (req.url !== '/disk.img') return res.writeHead(404).end();
    if (req.headers.authorization !== want) return res.writeHead(401).end();
    res.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as AddressInfo).port, close: () => new Promise((r) => srv.close(r)) };
}

/**
 * A real boot suite on a virtual board whose console and failure message quote three secrets:
 * the WiFi PSK (HW_TEST_WIFI_PSK), a line of the run's private key (HW_TEST_SSH_KEY) and the
 * image URL's password. The OS profile's version command echoes them and fails, as a board that
 * dumps its config would; then every file the run wrote, the CLI's output, the health record and
 * the download index are searched: none may hold any of them.
 */
describe('secrets at every sink (a real boot suite on qemu-x86-64, TCG)', function () {
  this.timeout(15 * 60_000);
  let tmp: string;

  before(function () {
    if (spawnSync('sh', ['-c', 'command -v qemu-system-x86_64 && command -v ssh-keygen']).status !== 0)
      this.skip();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hwt-sinks-'));
  });
  afterEach(function () {
    if (tmp && this.currentTest?.state === 'passed') rmSync(tmp, { recursive: true, force: true });
  });

  it('finds none of them in the reports, the CLI output, health.json or the download index', async function () {
    const psk = `psk-${randomBytes(6).toString('hex')}`;
    const urlPassword = `pw-${randomBytes(6).toString('hex')}`;
    const key = path.join(tmp, 'id_ed25519');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const keyLines = readFileSync(key, 'utf8').split('\n');
    // A line of the key's private body (the first is the same for every key of this type).
    const keyLine = keyLines[3].trim();
    expect(keyLine).to.have.length.greaterThan(30);

    const boards = path.join(tmp, 'boards');
    spawnSync('mkdir', ['-p', boards]);
    writeFileSync(
      path.join(boards, `${BOARD}.yaml`),
      readFileSync(path.join(ROOT, 'boards/qemu-x86-64.yaml'), 'utf8').replace(
        /^name: .*$/m,
        `name: ${BOARD}`,
      ),
    );
    const profile = path.join(tmp, 'leaky.yaml');
    writeFileSync(
      profile,
      readFileSync(path.join(ROOT, 'os/profiles/reference.yaml'), 'utf8').replace(
        /^ {2}version: .*$/m,
        `  version: 'echo "config: psk=${psk} key=${keyLine} url-password=${urlPassword}"; false'`,
      ),
    );

    const image = (await ensureImage('x86_64', 'v1')).image;
    const srv = await authServer(image, 'builder', urlPassword);
    const health = path.join(tmp, 'health.json');
    const downloads = path.join(tmp, 'downloads');
    const reports = path.join(tmp, 'reports');
    try {
      const url = `http://builder:${urlPassword}@127.0.0.1:${srv.port}/disk.img`;
      const r = await runCli(
        ['--board', BOARD, '--image', url, '--os', profile, '--suite', 'boot', '--reports', reports],
        {
          env: {
            HW_TEST_BOARDS_DIR: boards,
            HW_TEST_WIFI_PSK: psk,
            HW_TEST_SSH_KEY: key,
            HW_TEST_HEALTH: health,
            HW_TEST_DOWNLOADS: downloads,
          },
        },
      );
      const out = `${r.stdout}\n${r.stderr}`;
      // The run really got that far: the boot suite failed on the version command.
      expect(r.code, out).to.equal(1);
      const { dir, summary } = latestRun(reports, BOARD);
      const failed = summary.tests.find((t) => t.verdict === 'fail');
      expect(failed?.message, JSON.stringify(summary.tests)).to.match(
        /reading the OS version: config: psk=\*+ key=\*+ url-password=\*+/,
      );
      expect(readFileSync(path.join(dir, 'serial.log'), 'utf8')).to.match(
        /config: psk=\*+ key=\*+ url-password=\*+/,
      );
      expect(summary.image.path).to.equal(`http://********:********@127.0.0.1:${srv.port}/disk.img`);
      expect(summary.reproduce).to.include('http://********:********@127.0.0.1');

      const secrets = [psk, keyLine, urlPassword];
      expect(findSecrets(reports, secrets), `reports kept in ${tmp}`).to.deep.equal([]);
      expect(findSecrets(downloads, secrets)).to.deep.equal([]);
      for (const s of secrets) expect(out, 'the CLI output').to.not.include(s);
      expect(readFileSync(health, 'utf8')).to.not.match(new RegExp(secrets.join('|')));
    } finally {
      await srv.close();
    }
  });
});
