/**
 * Screenshots a rendered dashboard for the docs, served from 127.0.0.1 like the browser test:
 *   node dist/test/browser/screenshot.js REPORTS_DIR docs/img/dashboard.png
 * (REPORTS_DIR holds dashboard/index.html, from `hw-test dashboard REPORTS_DIR`.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.js';
import { serveStatic } from './static-server.js';

const [reportsDir, out] = process.argv.slice(2);
if (!reportsDir || !out) {
  process.stderr.write('usage: node dist/test/browser/screenshot.js REPORTS_DIR OUT.png\n');
  process.exit(2);
}
const server = await serveStatic(reportsDir);
const profile = await mkdtemp(join(tmpdir(), 'hw-test-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: CHROMIUM_ARGS,
});
try {
  // Nothing leaves 127.0.0.1, as in the test.
  await context.route('**', (route) =>
    /^https?:\/\/127\.0\.0\.1[:/]/.test(route.request().url()) ? route.continue() : route.abort(),
  );
  const page = await context.newPage();
  await page.goto(`${server.origin}/dashboard/index.html`);
  await page.locator('#matrix').waitFor();
  await page.screenshot({ path: out, fullPage: true });
} finally {
  await context.close();
  await server.close();
  await rm(profile, { recursive: true, force: true });
}
