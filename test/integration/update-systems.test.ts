import { expect } from 'chai';
import {
  SYSTEMS,
  runUpdateJobs,
  testByTitle,
  unavailable,
  why,
  type UpdateRunResult,
  type UpdateSystemRun,
} from '../helpers/update-systems.js';

/**
 * Issue 17: the update-rollback suite's success path and one seeded power cut, per update system,
 * on qemu-x86-64 under TCG. One run per system serves both (test 1 updates and calibrates the cut,
 * test 4.1 cuts the next update), and the systems run two at a time. The rest of the cut matrix is
 * for `--cuts N` runs; docs/reliability.md records a 20-cut soak per system.
 */
const ROWS: { row: UpdateSystemRun; seed: number; phase: string }[] = [
  // Each seed puts the one cut in a phase (lib/powercut.ts planCuts(1, seed)): they differ per system.
  { row: SYSTEMS.reference, seed: 16, phase: 'write' },
  { row: SYSTEMS.rauc, seed: 7, phase: 'after-switch' },
  { row: SYSTEMS.ostree, seed: 6, phase: 'first-boot' },
];

describe('update-rollback per update system: an update, then a power cut during the next (qemu-x86-64, TCG)', function () {
  this.timeout(60 * 60_000);
  const ready = ROWS.filter((r) => !unavailable(r.row));
  let results: UpdateRunResult[] = [];

  before(async function () {
    results = await runUpdateJobs(
      'upd-sys',
      ready.map((r) => ({
        row: r.row,
        args: ['--grep', 'update-rollback (1|4)\\.', '--cuts', '1', '--seed', String(r.seed)],
      })),
    );
  });

  for (const r of ROWS) {
    const missing = unavailable(r.row);
    const title = `${r.row.system}: the update commits, and a cut during ${r.phase} (seed ${r.seed}) leaves a consistent system`;
    (missing ? it.skip : it)(missing ? `${title} (pending: ${missing})` : title, function () {
      const res = results[ready.indexOf(r)];
      const t1 = testByTitle(res.summary, /^1\. update succeeds/);
      const cut = testByTitle(res.summary, /^4\.1 cut 1\/1 during /);
      expect(t1.verdict, why(t1, res)).to.equal('pass');
      expect(cut.verdict, why(cut, res)).to.equal('pass');
      expect(cut.title).to.contain(`during ${r.phase}`);
      expect(res.summary.verdict).to.equal('pass');
      expect(res.code).to.equal(0);
    });
  }
});
