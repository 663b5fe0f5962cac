import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { command as run } from '../../rig/cli/run.js';
import type { CliIo } from '../../rig/cli/io.js';
import { knownSecrets } from '../../rig/log.js';
import { generateWifiCredentials } from '../../rig/net/hostapd.js';
import type { RunSummary } from '../../rig/report/model.js';
import { netnsMissing } from './net-helpers.js';
import { findSecrets } from '../helpers/secrets.js';

/**
 * A whole run of the network and WiFi suites on a virtual board, in this process so that the
 * secrets it registers (the run's private key, a WiFi passphrase) are known here; then every file
 * the run wrote is searched for them.
 */
describe('secrets never reach the reports (network and wifi suites on qemu-x86-64)', function () {
  this.timeout(20 * 60_000);
  const missing =
    netnsMissing() ??
    (spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status !== 0
      ? 'qemu-system-x86_64 is not installed'
      : undefined);
  let reports: string;

  before(function () {
    if (missing) this.skip();
    reports = mkdtempSync(path.join(tmpdir(), 'hwt-secrets-'));
  });
  afterEach(function () {
    // A failed run's reports stay for a look (the path is in the failure); a passed one goes.
    if (reports && this.currentTest?.state === 'passed') rmSync(reports, { recursive: true, force: true });
  });

  it('searches every report file and output line for the WiFi passphrase and the private key, and finds neither', async () => {
    const wifi = generateWifiCredentials('qemu-x86-64');
    const before = new Set(knownSecrets());
    const lines: string[] = [];
    const io: CliIo = {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      interactive: false,
      env: process.env,
      signal: new AbortController().signal,
    };
    // The passphrase rides in a --grep that matches every test, so it reaches the reproduce line
    // that summary.json, junit.xml and Allure's environment all carry.
    const code = await run.main(
      [
        '--board',
        'qemu-x86-64',
        '--suite',
        'network,wifi',
        '--reports',
        reports,
        '--lock-timeout',
        '1200',
        '--grep',
        `^(?!${wifi.passphrase})`,
      ],
      io,
    );
    expect(code, `${lines.join('\n')}\nreports kept in ${reports}`).to.equal(0);

    const secrets = knownSecrets();
    expect(secrets).to.include(wifi.passphrase);
    // The run made its own WiFi passphrase for the image and the AP: searched for too.
    const made = secrets.filter((x) => !before.has(x));
    expect(
      made.filter((x) => /^[A-Za-z0-9_-]{24}$/.test(x)),
      'the run registered its WiFi passphrase',
    ).to.have.length(1);
    expect(
      secrets.some((s) => s.includes('OPENSSH PRIVATE KEY')),
      'the run registered its private key',
    ).to.equal(true);
    expect(findSecrets(reports, secrets)).to.deep.equal([]);

    const summaryFile = readdirSync(path.join(reports, 'qemu-x86-64'))
      .map((d) => path.join(reports, 'qemu-x86-64', d, 'summary.json'))
      .find((f) => {
        try {
          return statSync(f).isFile();
        } catch {
          return false;
        }
      })!;
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as RunSummary & {
      tests: { suite: string; verdict: string; skipReason?: string; title: string }[];
    };
    expect(summary.reproduce).to.include('********');
    // A real WiFi run: the board joined the rig's AP (on its simulated radio) with the credentials
    // made for this run, and every step of the suite ran.
    expect(
      summary.tests.map((t) => [t.suite, t.verdict]),
      JSON.stringify(summary.tests.map((t) => [t.suite, t.title, t.verdict, t.message ?? t.skipReason])),
    ).to.deep.equal([
      ...Array<string[]>(7).fill(['network', 'pass']),
      ...Array<string[]>(4).fill(['wifi', 'pass']),
    ]);
    const assoc = JSON.stringify(summary.tests.find((t) => t.suite === 'wifi')!.attachments);
    expect(assoc).to.match(/hwt-qemu-x86-64-[0-9a-f]{6} 02:00:00:00:01:00 via iw on wlan0/);
    expect(assoc).to.include('[AUTHORIZED]');
    // The AP's own log is in the report, without the passphrase (searched above).
    expect(readFileSync(path.join(path.dirname(summaryFile), 'wifi', 'hostapd.log'), 'utf8')).to.match(
      /EAPOL-4WAY-HS-COMPLETED 02:00:00:00:00:00/,
    );
    // Nor in any line the CLI printed.
    for (const s of secrets) expect(lines.filter((l) => l.includes(s))).to.deep.equal([]);

    // The search can fail: a report file that does hold a secret is found.
    writeFileSync(path.join(reports, 'planted.txt'), `psk=${wifi.passphrase}\n`);
    expect(findSecrets(reports, secrets)).to.deep.equal([
      { file: 'planted.txt', secret: `${wifi.passphrase.slice(0, 4)}…` },
    ]);
  });
});
