import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VARIANTS, ensureImage, type BuiltImage } from '../../rig/image/build.js';
import type { RunSummary, TestResult } from '../../rig/report/model.js';
import { ROOT, runCli } from './cli.js';
import { latestRun } from './faults.js';

/**
 * The update systems the update-rollback suite is proven on (issue 17), each as the reference OS
 * variant that carries it, the OS profile that drives it, and the bundles a run gives it. The
 * OSTree rows wait for the OSTree variant (branch `ostree`): until its variant is in this tree
 * they are pending, saying so.
 */
export interface UpdateSystemRun {
  /** The update system, for titles: reference (os-update), RAUC, OSTree. */
  system: string;
  /** The image variant (rig/image/build.ts) on qemu-x86-64. */
  variant: string;
  /** The OS profile, relative to the repository; the reference profile when absent. */
  profile?: string;
  /** The run's bundle options, from the built variant (the reference OS needs none). */
  bundles(built: BuiltImage): string[];
}

const rauc = (variant: string): UpdateSystemRun => ({
  system: 'RAUC',
  variant,
  profile: 'os/profiles/rauc.yaml',
  bundles: (b) => ['--update-bundle', b.bundle!],
});

/** OSTree bundles sit beside the good one, in the variant's cache folder (/work/notes/ostree.md). */
const ostree = (variant: string, broken?: 'unbootable-update' | 'health-fails'): UpdateSystemRun => ({
  system: 'OSTree',
  variant,
  profile: 'os/profiles/ostree.yaml',
  bundles: (b) => {
    const args = ['--update-bundle', b.bundle!];
    if (broken === 'unbootable-update')
      args.push(
        '--update-bundle-unbootable',
        path.join(path.dirname(b.bundle!), 'ostree-v2-unbootable-update.bundle'),
      );
    if (broken === 'health-fails')
      args.push(
        '--update-bundle-unhealthy',
        path.join(path.dirname(b.bundle!), 'ostree-v2-health-fails.bundle'),
      );
    return args;
  },
});

export const SYSTEMS = {
  reference: { system: 'reference (os-update)', variant: 'v1', bundles: () => [] } as UpdateSystemRun,
  rauc: rauc('rauc'),
  ostree: ostree('ostree'),
};

export const SABOTAGE = {
  referenceNoSwitch: { ...SYSTEMS.reference, variant: 'update-noswitch' },
  referenceWritesRunning: { ...SYSTEMS.reference, variant: 'update-writes-running' },
  referenceNoFallback: { ...SYSTEMS.reference, variant: 'no-fallback' },
  raucNoSwitch: rauc('rauc-noactivate'),
  raucWritesRunning: rauc('rauc-writes-running'),
  raucNoFallback: rauc('rauc-no-fallback'),
  ostreeNoSwitch: ostree('ostree-noswitch'),
  ostreeWritesRunning: ostree('ostree-writes-running'),
  ostreeNoFallback: ostree('ostree-no-fallback', 'unbootable-update'),
};

/** Why a row cannot run in this tree (its variant or profile is not here yet), or undefined. */
export function unavailable(r: UpdateSystemRun): string | undefined {
  if (!(VARIANTS as readonly string[]).includes(r.variant))
    return `the ${r.variant} variant is not in this tree yet`;
  if (r.profile && !existsSync(path.join(ROOT, r.profile))) return `${r.profile} is not in this tree yet`;
  if (!existsSync(path.join(ROOT, 'dist', 'suites', 'update-rollback', 'update-rollback.spec.js')))
    return 'the suite is not built (npm run build)';
  return undefined;
}

/**
 * A copy of qemu-x86-64 under its own name: runs in parallel each get a disk and a lock. Its boot
 * stages may take longer: two TCG boards share the host's cores (GRUB's BIOS disk reads of the
 * kernel took 135 s on a loaded host). The suite's early stops, not these limits, make a broken
 * update fail fast.
 */
function boardsDir(names: string[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-update-boards-'));
  const longer: Record<string, number> = { kernel: 300, userspace: 300, login: 180, ssh: 180 };
  let y = readFileSync(path.join(ROOT, 'boards', 'qemu-x86-64.yaml'), 'utf8');
  for (const [k, v] of Object.entries(longer))
    y = y.replace(new RegExp(`^  ${k}: \\d+$`, 'm'), `  ${k}: ${v}`);
  for (const n of names) writeFileSync(path.join(dir, `${n}.yaml`), y.replace(/^name: .*$/m, `name: ${n}`));
  return dir;
}

export interface UpdateRunResult {
  code: number | null;
  stderr: string;
  summary: RunSummary;
  dir: string;
}

/**
 * Runs the update-rollback suite for each job, two at a time (a CI host has 2 cores and each TCG
 * board keeps one busy), each on its own copy of qemu-x86-64. Resolves with one result per job.
 */
export async function runUpdateJobs(
  prefix: string,
  jobs: { row: UpdateSystemRun; args: string[] }[],
  parallel = 2,
): Promise<UpdateRunResult[]> {
  const names = jobs.map((_, i) => `${prefix}-${i + 1}`);
  const env = { HW_TEST_BOARDS_DIR: boardsDir(names) };
  const reports = mkdtempSync(path.join(os.tmpdir(), `hwt-${prefix}-`));
  const results: UpdateRunResult[] = [];
  // Built first, one at a time: two builds of one variant at once would share a scratch folder.
  const images: BuiltImage[] = [];
  for (const j of jobs) images.push(await ensureImage('x86_64', j.row.variant));
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      const { row, args } = jobs[i];
      const built = images[i];
      const profile = row.profile ? ['--os', path.join(ROOT, row.profile)] : [];
      const r = await runCli(
        [
          '--board',
          names[i],
          '--image',
          built.image,
          ...profile,
          ...row.bundles(built),
          '--suite',
          'update-rollback',
          '--reports',
          reports,
          ...args,
        ],
        { env },
      );
      const { dir, summary } = latestRun(reports, names[i]);
      results[i] = { code: r.code, stderr: r.stderr, summary, dir };
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
  return results;
}

export function testByTitle(s: RunSummary, re: RegExp): TestResult {
  const t = s.tests.find((x) => re.test(x.title));
  expect(t, `a test matching ${re} in ${s.tests.map((x) => x.title).join(' | ')}`).to.exist;
  return t!;
}

/** The test's message and its notes, for an assertion message. */
export function why(t: TestResult, r: UpdateRunResult): string {
  return `${t.verdict}: ${t.message ?? ''}\n${t.details ?? ''}\nstderr: ${r.stderr.slice(-2000)}`;
}
