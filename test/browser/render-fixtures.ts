import { cp, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderAllure } from '../../rig/report/allure-render.js';
import { writeDashboard, type DashboardResult } from '../../rig/report/dashboard/index.js';

export const FIXTURE_RUNS = join(process.cwd(), 'test/fixtures/runs');

export interface RenderedLab {
  /** A copy of the fixture runs, with every run's allure-report/ rendered and dashboard/ written. */
  root: string;
  dashboard: DashboardResult;
}

/**
 * Renders the fixture lab as the nightly would: each board's runs oldest first, each report
 * carrying the previous one's history, then the dashboard over all of them.
 */
export async function renderFixtureLab(signal?: AbortSignal): Promise<RenderedLab> {
  const root = await mkdtemp(join(tmpdir(), 'hw-test-lab-'));
  await cp(FIXTURE_RUNS, root, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => !src.endsWith('.ts'),
  });
  const boards = (await readdir(root, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  // Boards are independent (as on Jenkins agents); a board's runs are a chain through history.
  await Promise.all(
    boards.map(async (board) => {
      const runs = (await readdir(join(root, board))).filter((r) => r !== 'latest').sort();
      let previous: string | undefined;
      for (const run of runs) {
        const res = await renderAllure({
          runDir: join(root, board, run),
          historyFrom: previous,
          env: {},
          signal,
        });
        previous = res.reportDir;
      }
    }),
  );
  const dashboard = await writeDashboard({ reportsDir: root, outDir: join(root, 'dashboard'), last: 20 });
  return { root, dashboard };
}
