import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureStockImage, stockHash } from '../../rig/image/stock.js';
import { cacheRoot } from '../../rig/image/build.js';
import type { RunSummary, TestResult } from '../../rig/report/model.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { latestRun } from '../helpers/faults.js';

/**
 * A stock distribution, not ours, tested with its OS profile alone: Debian 12 with systemd,
 * OpenSSH, avahi and systemd-networkd on a GPT disk whose only filesystem is ext4 (built by
 * os/stock-debian/build.sh, cached by npm run setup). One boot serves the boot and network
 * suites, with this run's hostname and key written into the ext4 root by debugfs. The same image
 * with a profile that expects a wrong password must fail, saying why.
 */
const BOARD = 'qemu-x86-64-stock';

function boardsDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-stock-boards-'));
  const y = readFileSync(path.join(ROOT, 'boards', 'qemu-x86-64.yaml'), 'utf8').replace(
    /^name: .*$/m,
    `name: ${BOARD}`,
  );
  writeFileSync(path.join(dir, `${BOARD}.yaml`), y);
  return dir;
}

function byTitle(s: RunSummary, re: RegExp): TestResult {
  const t = s.tests.find((x) => re.test(x.title));
  expect(t, `a test matching ${re} in ${s.tests.map((x) => x.title).join(' | ')}`).to.exist;
  return t!;
}

/** Every file of a run's report folder, for secrets that must not be there. */
function reportText(dir: string): string {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => readFileSync(f, 'latin1'))
    .join('\n');
}

describe('a stock Debian 12 image, driven by its OS profile alone (qemu-x86-64, TCG)', function () {
  this.timeout(1_200_000);
  let image: string;
  let env: NodeJS.ProcessEnv;
  let reports: string;
  const figures: string[] = [];

  before(async function () {
    this.timeout(30 * 60_000);
    const cached = existsSync(
      path.join(cacheRoot(), 'images', `x86_64-debian-12-${await stockHash('debian-12')}`, 'done'),
    );
    if (!cached && process.getuid?.() !== 0) {
      process.stdout.write(
        '    skipped: the debian-12 image is not built and building it needs root (npm run setup)\n',
      );
      this.skip();
    }
    const t0 = Date.now();
    const built = await ensureStockImage('debian-12');
    image = built.image;
    figures.push(
      `debian-12 image ${built.cached ? 'cached' : `built in ${((Date.now() - t0) / 1000).toFixed(0)} s`}`,
    );
    env = { HW_TEST_BOARDS_DIR: boardsDir() };
    reports = mkdtempSync(path.join(os.tmpdir(), 'hwt-stock-'));
  });

  after(() => {
    if (figures.length) process.stdout.write(`    ${figures.join('; ')}\n`);
  });

  it('passes boot and network with its hostname and key provisioned into the ext4 root of a GPT disk', async function () {
    const profile = path.join(ROOT, 'os', 'profiles', 'debian-12.yaml');
    const t0 = Date.now();
    const r = await runCli(
      ['--board', BOARD, '--image', image, '--os', profile, '--suite', 'boot,network', '--reports', reports],
      { env },
    );
    const { dir, summary: s } = latestRun(reports, BOARD);
    figures.push(
      `boot+network run ${((Date.now() - t0) / 1000).toFixed(0)} s, login prompt at ${((s.bootMs ?? 0) / 1000).toFixed(1)} s`,
    );
    const notPassed = s.tests
      .filter((t) => t.verdict !== 'pass')
      .map((t) => `${t.title}: ${t.verdict}: ${t.message ?? t.skipReason}`);
    expect(r.code, `${r.stderr}\n${notPassed.join('\n')}`).to.equal(0);
    expect(s.verdict).to.equal('pass');
    // The hostname is this run's: ext-files wrote it into /etc/hostname, and everyone saw it.
    expect(byTitle(s, /^is this run's image/).verdict).to.equal('pass');
    for (const re of [/^1: /, /^2: /, /^3: /, /^4: /, /^5: /, /^6: /])
      expect(byTitle(s, re).verdict, String(re)).to.equal('pass');
    const services = byTitle(s, /^7: /);
    expect(services.verdict).to.equal('skipped');
    expect(services.skipReason).to.match(/lists no service in network.mdns.services/);
    const mdns = byTitle(s, /^2: /).attachments.find((a) => a.name === 'mdns');
    expect(mdns?.content).to.match(
      /^hwt-[0-9a-f]{6}\.local -> 10\.\d+\.\d+\.\d+ \(hostname configured into the image for this run \(ext-files\)\)$/,
    );
    // Predictable interface names: found on the board, not assumed.
    const iface = byTitle(s, /^1: /).attachments.find((a) => a.name === 'interface');
    expect(iface?.content).to.match(/^ens\d+ \(ip route get /);
    // The console password (8 characters and more) is masked in every report file.
    expect(reportText(dir)).to.not.include('debian-hw-test');
  });

  it('fails, saying why, when its profile expects a password the image does not have', async function () {
    const profile = path.join(ROOT, 'test', 'fixtures', 'os', 'debian-12-wrong-password.yaml');
    const t0 = Date.now();
    const r = await runCli(
      ['--board', BOARD, '--image', image, '--os', profile, '--suite', 'boot', '--reports', reports],
      { env },
    );
    figures.push(`wrong-password run ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const { dir, summary: s } = latestRun(reports, BOARD);
    expect(r.code, r.stderr).to.equal(1);
    expect(s.verdict).to.equal('fail');
    expect(byTitle(s, /shows a login prompt/).verdict).to.equal('pass');
    const login = byTitle(s, /logs in on the console/);
    expect(login.verdict).to.equal('fail');
    expect(login.message).to.match(/^login as root failed: .*Login incorrect/);
    expect(byTitle(s, /runs a command/).verdict).to.equal('skipped');
    expect(reportText(dir)).to.not.include('not-the-root-password');
  });
});
