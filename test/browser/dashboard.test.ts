import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { renderFixtureLab, type RenderedLab } from './render-fixtures.js';
import { CHROMIUM, CHROMIUM_ARGS as ARGS } from './chromium.js';
import { serveStatic, type StaticServer } from './static-server.js';

const OUT = join(process.cwd(), 'reports/test-output/browser');

/** What the fixture runs' latest verdicts are (test/fixtures/runs/generate.ts), board by board. */
const EXPECTED: Record<string, Record<string, string>> = {
  'odroid-xu4': { boot: 'infra', network: 'skipped', wifi: 'skipped', 'update-rollback': 'not-run' },
  'qemu-armv7': { boot: 'pass', network: 'skipped', wifi: 'not-run', 'update-rollback': 'error' },
  'qemu-x86-64': { boot: 'pass', network: 'fail', wifi: 'not-run', 'update-rollback': 'pass' },
};

function missingTool(): string | undefined {
  if (!existsSync(CHROMIUM))
    return `${CHROMIUM} missing (apt-get install -y chromium; npm run setup installs it)`;
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
  } catch {
    return 'java missing for allure-commandline (apt-get install -y default-jre-headless)';
  }
  return undefined;
}

const isLocal = (url: string) => {
  const u = new URL(url);
  if (!/^(https?|wss?|ftp):$/.test(u.protocol)) return true; // data:, blob:, about: never leave the machine
  return u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
};

describe('lab dashboard and Allure report in headless Chromium', function () {
  this.timeout(60_000);
  let lab: RenderedLab;
  let server: StaticServer;
  let context: BrowserContext;
  let profile: string;
  const requests: string[] = [];
  const outside = new Set<string>();

  before(async function () {
    const why = missingTool();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    this.timeout(240_000);
    lab = await renderFixtureLab();
    server = await serveStatic(lab.root, {
      '/outside.html': '<!DOCTYPE html><title>outside</title><img src="http://192.0.2.1/probe.png">',
    });
    profile = await mkdtemp(join(tmpdir(), 'hw-test-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
    });
    // Every request passes here first: an outside one is recorded and never sent.
    await context.route('**', async (route) => {
      const url = route.request().url();
      requests.push(url);
      if (isLocal(url)) return route.continue();
      outside.add(url);
      return route.abort('blockedbyclient');
    });
    context.on('request', (r) => {
      if (!isLocal(r.url())) outside.add(r.url());
    });
    await mkdir(OUT, { recursive: true });
  });

  after(async () => {
    await context?.close();
    await server?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    if (lab) await rm(lab.root, { recursive: true, force: true });
  });

  async function openDashboard(): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${server.origin}/dashboard/index.html`);
    await page.locator('#matrix').waitFor();
    return page;
  }

  it('shows each verdict in the right cell of the board x suite matrix', async () => {
    const page = await openDashboard();
    const cells = await page.$$eval('#matrix td.cell', (tds) =>
      tds.map((td) => ({
        board: td.getAttribute('data-board'),
        suite: td.getAttribute('data-suite'),
        verdict: td.getAttribute('data-verdict'),
        text: (td as HTMLElement).innerText.trim(),
        border: getComputedStyle(td).borderTopStyle,
      })),
    );
    const seen: Record<string, Record<string, string>> = {};
    for (const c of cells) {
      (seen[c.board!] ??= {})[c.suite!] = c.verdict!;
      // What a user reads in the cell, not only the attribute.
      expect(c.text, `${c.board}/${c.suite}`).to.contain(c.verdict === 'not-run' ? 'not run' : c.verdict!);
      // Skipped is drawn apart from pass and from not-run: dashed, hatched.
      if (c.verdict === 'skipped') expect(c.border).to.equal('dashed');
      else expect(c.border).to.not.equal('dashed');
    }
    expect(seen).to.deep.equal(EXPECTED);
    await page.screenshot({ path: join(OUT, 'dashboard.png'), fullPage: true });
    if (process.env.HW_TEST_DOCS_IMG)
      await copyFile(join(OUT, 'dashboard.png'), join(process.cwd(), 'docs/img/dashboard.png'));
    await page.close();
  });

  it('draws one trend point per run, oldest first, with unmeasured runs marked', async () => {
    const page = await openDashboard();
    for (const b of lab.dashboard.boards) {
      const runIds = b.runs.map((r) => r.summary.runId);
      for (const trend of ['boot', 'flash', 'duration']) {
        const series = await page.$$eval(
          `section.board[data-board="${b.board}"] figure[data-trend="${trend}"] g.series`,
          (gs) => gs.map((g) => [...g.querySelectorAll('.point')].map((p) => p.getAttribute('data-run'))),
        );
        expect(series.length, `${b.board} ${trend}`).to.be.greaterThan(0);
        for (const points of series) expect(points, `${b.board} ${trend}`).to.deep.equal(runIds);
      }
    }
    // The boards that never reached login in a run show a hollow marker there, not a zero.
    const missing = await page.$$eval('figure[data-trend="boot"] .point.missing', (ps) =>
      ps.map((p) => p.getAttribute('data-run')),
    );
    expect(missing).to.have.length(2);
    await page.close();
  });

  it("links a cell to the run's Allure report, which lists the tests with the console attachment", async () => {
    const page = await openDashboard();
    await page.locator('#matrix td[data-board="qemu-x86-64"][data-suite="network"] a').click();
    await page.waitForURL(/qemu-x86-64\/\d{8}-\d{6}-[0-9a-f]+\/allure-report\/index\.html/);
    // The environment widget carries the reproduce command.
    const env = page.locator('.widget', { hasText: 'Environment' });
    await env.waitFor({ timeout: 20_000 });
    const showAll = env.getByText(/show all/i);
    if (await showAll.count()) await showAll.first().click();
    expect(await env.innerText()).to.contain('npm run hw-test -- --board qemu-x86-64');
    await page.goto(`${page.url().split('#')[0]}#suites`);
    await page.locator('.node__title', { hasText: 'qemu-x86-64' }).first().click();
    for (const suite of ['boot', 'network', 'update-rollback']) {
      await page.locator('.node__title', { hasText: suite }).first().click();
    }
    const titles = (await page.locator('.node__title').allInnerTexts()).join('\n');
    for (const t of [
      'reaches the login prompt',
      'gets a DHCP lease',
      'resolves <hostname>.local over mDNS',
      'rolls back a sabotaged update',
    ]) {
      expect(titles).to.contain(t);
    }
    await page.locator('.node__title', { hasText: 'reaches the login prompt' }).first().click();
    const attachment = page.locator('.test-result .attachment-row__name');
    await attachment.first().waitFor();
    expect(await attachment.allInnerTexts()).to.deep.equal(['console']);
    await attachment.first().click();
    await page.getByText('hw-test: reached login').waitFor();
    await page.screenshot({ path: join(OUT, 'allure-test.png') });
    await page.close();
  });

  it('made no request outside localhost, and would have caught one', async () => {
    expect(requests.length).to.be.greaterThan(10);
    expect([...outside], 'requests that left 127.0.0.1').to.deep.equal([]);
    // The guard itself: a page that reaches out is recorded (and blocked before it leaves).
    const page = await context.newPage();
    await page.goto(`${server.origin}/outside.html`);
    await page.waitForLoadState('load');
    expect([...outside]).to.deep.equal(['http://192.0.2.1/probe.png']);
    outside.clear();
    await page.close();
  });
});
