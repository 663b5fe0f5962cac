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

  it('searches every report file for the WiFi passphrase and the private key, and finds neither', async () => {
    const wifi = generateWifiCredentials('qemu-x86-64');
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
    // The WiFi suite tests nothing on a board without a radio: the run is a MISS (exit 4), not a pass.
    expect(code, `${lines.join('\n')}\nreports kept in ${reports}`).to.equal(4);

    const secrets = knownSecrets();
    expect(secrets).to.include(wifi.passphrase);
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
    expect(summary.verdict).to.equal('miss');
    expect(summary.missed?.map((m) => m.suite)).to.deep.equal(['wifi']);
    // On a virtual board the WiFi suite is skipped, with the reason from the board's capabilities.
    const wifiTests = summary.tests.filter((t) => t.suite === 'wifi');
    expect(
      wifiTests.length,
      JSON.stringify(summary.tests.map((t) => [t.suite, t.title, t.verdict])),
    ).to.be.greaterThan(0);
    for (const t of wifiTests) {
      expect(t.verdict).to.equal('skipped');
      expect(t.skipReason).to.match(/has no WiFi radio \(qemu-x86-64 capabilities: ethernet, update\)/);
    }
    // The reference OS promises all seven network checks (os/profiles/reference.yaml network.*).
    expect(summary.tests.filter((t) => t.suite === 'network').map((t) => t.verdict)).to.deep.equal(
      Array(7).fill('pass'),
    );

    // The search can fail: a report file that does hold a secret is found.
    writeFileSync(path.join(reports, 'planted.txt'), `psk=${wifi.passphrase}\n`);
    expect(findSecrets(reports, secrets)).to.deep.equal([
      { file: 'planted.txt', secret: `${wifi.passphrase.slice(0, 4)}…` },
    ]);
  });
});
