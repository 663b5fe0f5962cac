import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestResult } from '../../rig/report/model.js';
import {
  SABOTAGE,
  runUpdateJobs,
  testByTitle,
  unavailable,
  why,
  type UpdateRunResult,
  type UpdateSystemRun,
} from '../helpers/update-systems.js';

/**
 * Issue 17: the sabotage the update-rollback suite must catch, per update system, each with the
 * verdict fail and the right reason, quickly (the early stops of lib/follow.ts): an update that
 * installs but does not switch, one that writes the running slot or deployment, and a bootloader
 * left to retry a bad system forever. Two runs at a time, each only the test that catches it.
 *
 * `npm test` runs one row per update system, each a different kind of sabotage, the quicker ones
 * (each row is a TCG boot and an update: 1.5-4 min on a loaded host, all nine 12 min two at a
 * time); the nightly runs all nine with HW_TEST_NIGHTLY=1 (Jenkinsfile.nightly, stage "Update
 * systems"; docs/updates.md).
 */
const NIGHTLY = process.env.HW_TEST_NIGHTLY === '1';
const T1 = 'update-rollback 1\\.';
const T2 = 'update-rollback 2\\.';
/**
 * The report of a caught bootloader: the serial log of each boot, the variables before the update
 * (the reference OS's boot counting, where it all started in issue 7).
 */
function reportOfNoFallback(t: TestResult, res: UpdateRunResult): void {
  for (const n of [1, 2, 3, 4]) expect(t.message).to.contain(`hw-test: bootloader slot=B bootcount=${n}`);
  const names = t.attachments.map((a) => a.name);
  expect(
    names.filter((n) => /^serial log, boot \d+ of \d+$/.test(n)).length,
    names.join(', '),
  ).to.be.at.least(5);
  const before = t.attachments.find((a) => a.name === 'bootloader variables before');
  const text = before?.content ?? (before?.path ? readFileSync(path.join(res.dir, before.path), 'utf8') : '');
  expect(text)
    .to.match(/upgrade_available=0/)
    .and.match(/bootlimit=3/);
  expect(readdirSync(res.dir)).to.include('serial.log');
}

const ROWS: {
  row: UpdateSystemRun;
  grep: string;
  test: RegExp;
  message: RegExp;
  what: string;
  report?: (t: TestResult, res: UpdateRunResult) => void;
  /** Run by `npm test`; the other rows run in the nightly only. */
  ci?: true;
}[] = [
  {
    row: SABOTAGE.referenceNoSwitch,
    what: 'installs but does not switch',
    grep: T1,
    test: /^1\. /,
    message: /came up again instead of a new one: the update did not switch/,
  },
  {
    row: SABOTAGE.referenceWritesRunning,
    ci: true,
    what: 'writes the running slot',
    grep: T1,
    test: /^1\. /,
    message:
      /\(A, version v2\) came up again instead of a new one: it runs v2 where v1 ran: the update wrote the running system/,
  },
  {
    row: SABOTAGE.referenceNoFallback,
    what: 'leaves a bad slot retried forever (the bootloader never falls back)',
    grep: T2,
    test: /^2\. /,
    message: /the bootloader attempted B 4 times \(bootlimit=3\) instead of falling back/,
    report: reportOfNoFallback,
  },
  {
    row: SABOTAGE.raucNoSwitch,
    what: 'installs but does not switch (activate-installed=false)',
    grep: T1,
    test: /^1\. /,
    message: /came up again instead of a new one: the update did not switch/,
  },
  {
    row: SABOTAGE.raucWritesRunning,
    what: "writes the running slot (the bundle's install hook)",
    grep: T1,
    test: /^1\. /,
    message:
      /\(A, version v2\) came up again instead of a new one: it (runs v2 where v1 ran: the update wrote the running system|rolled back)/,
  },
  {
    row: SABOTAGE.raucNoFallback,
    ci: true,
    what: 'leaves a bad slot retried forever (the boot script never counts a try)',
    grep: T2,
    test: /^2\. /,
    message: /the bootloader attempted B 2 times \(bootlimit=1\) instead of falling back/,
  },
  {
    row: SABOTAGE.ostreeNoSwitch,
    ci: true,
    what: 'installs but does not switch (deployed --not-as-default)',
    grep: T1,
    test: /^1\. /,
    message: /came up again instead of a new one: the update did not switch/,
  },
  {
    row: SABOTAGE.ostreeWritesRunning,
    what: 'writes the running deployment (the new commit checked out over it)',
    grep: T1,
    test: /^1\. /,
    message:
      /came up again instead of a new one: it runs v2 where v1 ran: the update wrote the running system/,
  },
  {
    row: SABOTAGE.ostreeNoFallback,
    what: 'leaves a bad deployment retried forever (GRUB never falls back)',
    grep: T2,
    test: /^2\. /,
    message: /the bootloader attempted \S+ 4 times \(bootlimit=3\) instead of falling back/,
  },
];

describe('update-rollback catches a broken update system, with the verdict fail (qemu-x86-64, TCG)', function () {
  this.timeout(90 * 60_000);
  const skipped = (r: (typeof ROWS)[number]) =>
    unavailable(r.row) ?? (r.ci || NIGHTLY ? undefined : 'nightly only: HW_TEST_NIGHTLY=1');
  const ready = ROWS.filter((r) => !skipped(r));
  let results: UpdateRunResult[] = [];

  before(async function () {
    results = await runUpdateJobs(
      'upd-sab',
      ready.map((r) => ({ row: r.row, args: ['--grep', r.grep] })),
    );
  });

  for (const r of ROWS) {
    const missing = skipped(r);
    const title = `${r.row.system}, ${r.row.variant}: an update that ${r.what} fails`;
    (missing ? it.skip : it)(missing ? `${title} (pending: ${missing})` : title, function () {
      const res = results[ready.indexOf(r)];
      const t = testByTitle(res.summary, r.test);
      expect(t.verdict, why(t, res)).to.equal('fail');
      expect(t.message, why(t, res)).to.match(r.message);
      expect(res.summary.verdict).to.equal('fail');
      expect(res.code).to.equal(1);
      r.report?.(t, res);
      // Fail fast: an early stop answered (lib/follow.ts), not the 300-600 s timeouts.
      expect(t.message, why(t, res)).to.not.match(/did not come within/);
    });
  }
});
