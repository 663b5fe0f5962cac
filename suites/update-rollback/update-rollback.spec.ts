import { expect } from 'chai';
import { InfraError, errorMessage, rig, skipBecause } from '../fixture.js';
import { REFERENCE_OS } from '../../rig/catalog/os-profile.js';
import type { BoardState } from '../../rig/update/board-state.js';
import { resolveBundle, type Bundle } from '../../rig/update/bundle.js';
import { judgeAfterCut, otherSlot, rollbackProblems } from '../../rig/update/consistency.js';
import { cutDuringUpdate, type Calibration } from '../../rig/update/cut.js';
import { LogTail } from '../../rig/update/log-tail.js';
import {
  defaultDurations,
  describePlan,
  parseCuts,
  parseSeed,
  planCuts,
  type CutPlan,
} from '../../rig/update/powercut.js';
import { missingCommands } from '../../rig/update/settings.js';
import { UpdateFlow, type FollowResult } from '../../rig/update/update-flow.js';
import { TestRecord, dataFileProblems, writeDataFile, type DataFile } from './record.js';

/**
 * Update and rollback (issue 7): A/B update, rollback when the new system cannot boot, rollback
 * when its health check fails, power cuts during the update, and a repeated update. OS-neutral:
 * every board-side action is an OS profile command; the bundle goes over SSH.
 */
type Ctx = Mocha.Context;

let flow: UpdateFlow;
let data: DataFile | undefined;
let record: TestRecord | undefined;
/** Why the board cannot be used by later tests (it was left unbootable). */
let broken: string | undefined;
/** Phase durations: guesses until test 1 measures an uncut update. */
let calibration: Calibration | undefined;

/** The plan is made when the suite loads, so each cut is a test named with its phase and seed. */
function plan(): CutPlan {
  let options: Readonly<Record<string, string>> = {};
  try {
    options = rig().options;
  } catch {
    // Loaded outside a run (e.g. listed): the default plan with a fresh seed.
  }
  return planCuts(parseCuts(options.cuts), parseSeed(options.seed));
}

/** Skips with the reason when the board, the OS profile or the run cannot do this test. */
function precondition(t: Ctx, bundleKey: string): Bundle {
  const r = rig();
  if (!r.type.capabilities.includes('update'))
    skipBecause(t, `${r.type.name} has no update capability (boards/${r.type.name}.yaml)`);
  const missing = missingCommands(r.os);
  if (missing.length)
    skipBecause(
      t,
      `the OS profile ${r.os.file} has no commands.${missing.join(', commands.')}: it cannot be updated OS-neutrally`,
    );
  if (r.boot.failure) skipBecause(t, `the board did not boot earlier in this run: ${r.boot.failure.message}`);
  if (broken) skipBecause(t, `the board was left unbootable by an earlier test: ${broken}`);
  // Copying the bundle over the console at 115200 baud would take most of an hour per update.
  if (!r.network)
    skipBecause(
      t,
      'no network to the board: the bundle is copied over SSH, and this OS profile offers no console transfer',
    );
  const b = resolveBundle(r.artifacts, bundleKey);
  if ('missing' in b) {
    // The runner builds the reference OS's bundles for virtual boards: none is the rig's fault,
    // not a reason to skip (a skipped suite must not read as green).
    if (r.type.defaultImage && r.os.file === REFERENCE_OS)
      throw new InfraError(`${b.missing}`, { board: r.boardName });
    skipBecause(t, b.missing);
  }
  return b;
}

function calibrationFor(bundle: Bundle): Calibration {
  calibration ??= {
    durations: defaultDurations(bundle.bytes, rig().type.timeouts.update ?? 300),
    hasVerifyingMarker: false,
  };
  return calibration;
}

async function ensureData(): Promise<DataFile> {
  // Booted first: the board's DHCP lease and SSH come with its userspace.
  await flow.shell();
  data ??= await writeDataFile(flow);
  return data;
}

/** Copies the bundle, runs the update and waits until the bootloader points at the new slot. */
async function updateUntilSwitched(bundle: Bundle) {
  const dut = await flow.connect();
  try {
    const copy = await flow.copy(dut, bundle);
    record!.note(`copied ${bundle.path} (${bundle.bytes} bytes) to ${copy.remote} in ${copy.ms} ms`);
    const tail = new LogTail(rig().console);
    const running = flow.startUpdate(dut, copy.remote, bundle);
    const marks = await flow.waitSwitched(tail, running);
    return { tail, marks, copyMs: copy.ms };
  } finally {
    void dut.close().catch(() => {});
  }
}

/** Whether an uncut update of this run has measured the phases (the guesses are rough). */
let measured = false;

/**
 * A whole update to the other slot: copy, write, switch, reboot, commit. Its phase durations
 * calibrate the power cuts; the metrics go to the current test.
 */
async function updateToNewSlot(bundle: Bundle, before: BoardState): Promise<FollowResult> {
  const r = rig();
  const newSlot = otherSlot(before.slot);
  const { tail, marks, copyMs } = await updateUntilSwitched(bundle);
  const follow = await flow.followBoots(tail, { expectSlot: newSlot, newSlot, timeoutMs: flow.ms.update });
  await flow.waitTrialOver(tail, flow.ms.update);
  const c = calibrationFor(bundle);
  const first = follow.attempts.find((a) => a.slot === newSlot);
  c.durations.copy = copyMs;
  if (marks.writingAt !== undefined) c.durations.write = marks.switchedAt - marks.writingAt;
  if (first) c.durations['first-boot'] = follow.up.t - first.t;
  c.hasVerifyingMarker = marks.verifyingAt !== undefined;
  measured = true;
  r.metric('copyMs', copyMs);
  if (marks.writingAt !== undefined) r.metric('writeMs', marks.switchedAt - marks.writingAt);
  r.metric('switchToUserspaceMs', follow.up.t - marks.switchedAt);
  record!.note(
    `phase durations now: ${JSON.stringify(c.durations)}; verifying marker: ${c.hasVerifyingMarker}`,
  );
  return follow;
}

/** Reads the state before a test, with the breadcrumbs of earlier tests cleared. */
async function stateBefore(): Promise<BoardState> {
  const runner = await flow.shell();
  await flow.clearBreadcrumbs(runner);
  record!.before = await flow.state(runner);
  return record!.before;
}

async function stateAfter(): Promise<BoardState> {
  record!.after = await flow.state();
  return record!.after;
}

async function expectDataIntact(): Promise<void> {
  if (!data) return;
  const problems = await dataFileProblems(flow, await flow.shell(), data);
  expect(problems, 'the data partition file').to.deep.equal([]);
}

function bootlimitOf(s: BoardState): number {
  const name = flow.settings.bootlimitVariable;
  const v = Number(s.bootenv[name]);
  expect(
    Number.isInteger(v) && v > 0,
    `bootloader variable ${name} (${s.bootenv[name] ?? 'unset'})`,
  ).to.equal(true);
  return v;
}

function quoteAttempts(f: FollowResult): string {
  return (
    f.attempts.map((a, i) => `attempt ${i + 1}: ${a.line}`).join('\n') +
    (f.altboot.length ? `\n${f.altboot.join('\n')}` : '')
  );
}

/** Tests 2 and 3: a bad update must come back to the old slot by itself. */
async function rollbackTest(t: Ctx, bundleKey: string, crumb: 'altboot' | 'health'): Promise<void> {
  const r = rig();
  const bundle = precondition(t, bundleKey);
  await ensureData();
  const before = await stateBefore();
  const bootlimit = bootlimitOf(before);
  const newSlot = otherSlot(before.slot);
  const { tail, marks } = await updateUntilSwitched(bundle);
  let follow: FollowResult;
  try {
    follow = await flow.followBoots(tail, {
      expectSlot: before.slot,
      newSlot,
      bootlimit,
      timeoutMs: flow.ms.rollback,
    });
  } catch (err) {
    broken = `${t.test?.title ?? bundleKey}: ${errorMessage(err)}`;
    throw err;
  }
  const after = await stateAfter();
  const onNew = follow.attempts.filter((a) => a.slot === newSlot);
  r.attach('boot attempts', quoteAttempts(follow) + '\n');
  r.metric('rollbackBoots', follow.attempts.length);
  r.metric('rollbackMs', follow.up.t - marks.switchedAt);
  record!.note(
    `back on slot ${follow.up.slot} after ${follow.attempts.length} boots, ${Math.round((follow.up.t - marks.switchedAt) / 1000)} s after the switch`,
  );

  expect(rollbackProblems(before, after, flow.settings), 'back on the old system').to.deep.equal([]);
  expect(onNew.length, `attempts of slot ${newSlot}:\n${quoteAttempts(follow)}`).to.be.within(1, bootlimit);
  const names = flow.settings.breadcrumbs;
  if (crumb === 'altboot') {
    // Each attempt is on the console, counted by the bootloader: 1, 2, ... up to the limit.
    expect(
      onNew.map((a) => a.bootcount),
      `bootcount of each attempt:\n${quoteAttempts(follow)}`,
    ).to.deep.equal(onNew.map((_, i) => i + 1));
    expect(after.breadcrumbs, 'breadcrumbs').to.include(names.altboot);
  } else {
    expect(after.breadcrumbs, 'breadcrumbs').to.include(names.health);
    expect(after.breadcrumbs, 'breadcrumbs').to.not.include(names.altboot);
  }
  await expectDataIntact();
}

/** Runs a test body and attaches, within the test, its serial logs and variables (pass or fail). */
function recorded(fn: (this: Ctx) => Promise<void>): (this: Ctx) => Promise<void> {
  return async function (this: Ctx) {
    record = new TestRecord(rig());
    let failure: string | undefined;
    try {
      await fn.call(this);
    } catch (err) {
      // A skip is mocha's Pending: nothing ran, nothing to attach.
      if (err instanceof Error || typeof err !== 'object' || err?.constructor?.name !== 'Pending') {
        failure = errorMessage(err);
        record.attachAll(flow.settings.markers, failure);
      }
      throw err;
    }
    record.attachAll(flow.settings.markers);
  };
}

describe('update-rollback', function () {
  before(function () {
    flow = new UpdateFlow(rig());
  });

  it(
    '1. update succeeds: the other slot runs the new version, committed, data intact',
    recorded(async function () {
      const bundle = precondition(this, 'update:v2');
      await ensureData();
      const before = await stateBefore();
      if (before.version === bundle.version)
        skipBecause(
          this,
          `the board already runs ${bundle.version}: flash the v1 image to test an update to it`,
        );
      const newSlot = otherSlot(before.slot);
      await updateToNewSlot(bundle, before);
      const after = await stateAfter();

      expect(after.slot, 'active slot after the update').to.equal(newSlot);
      expect(after.version, 'version after the update').to.equal(bundle.version);
      expect(
        after.bootenv[flow.settings.trialVariable] ?? '0',
        `${flow.settings.trialVariable} (committed)`,
      ).to.equal('0');
      const { altboot, health } = flow.settings.breadcrumbs;
      expect(
        after.breadcrumbs.filter((b) => b === altboot || b === health),
        'rollback breadcrumbs',
      ).to.deep.equal([]);
      await expectDataIntact();
    }),
  );

  it(
    '2. rollback when the new system cannot boot: back on the old slot by itself (altboot)',
    recorded(async function () {
      await rollbackTest(this, 'update:unbootable-update', 'altboot');
    }),
  );

  it(
    '3. rollback when the health check fails: back on the old slot, health breadcrumb only',
    recorded(async function () {
      await rollbackTest(this, 'update:health-fails', 'health');
    }),
  );

  const cuts = plan();
  describe(`4. power cut during the update (seed ${cuts.seed}; replay: --cuts ${cuts.cuts.length} --seed ${cuts.seed})`, function () {
    for (const point of cuts.cuts) {
      it(
        `4.${point.index} cut ${point.index}/${cuts.cuts.length} during ${point.phase} at ${Math.round(point.fraction * 100)}% (seed ${cuts.seed})`,
        recorded(async function () {
          const r = rig();
          const bundle = precondition(this, 'update:v2');
          r.attach('power-cut plan', describePlan(cuts) + '\n');
          await ensureData();
          const c = calibrationFor(bundle);
          // A trial left by the previous cut ends (commit or rollback) before the next update.
          await flow.waitTrialOver(new LogTail(r.console), flow.ms.update);
          if (!measured && point.phase !== 'copy' && point.phase !== 'after-switch') {
            // Cuts land by time within their phase: one uncut update measures the phases first
            // (test 1 does it when it runs; with --grep for the cuts alone, this does).
            record!.note('calibrating: one uncut update to measure the phases');
            await updateToNewSlot(bundle, await stateBefore());
          }
          const before = await stateBefore();
          const bootlimit = bootlimitOf(before);
          const newSlot = otherSlot(before.slot);
          const dut = await flow.connect();
          const cut = await cutDuringUpdate(flow, dut, bundle, point, c, newSlot);
          void dut.close().catch(() => {});
          record!.note(
            `cut ${point.index}: planned ${point.phase} at ${Math.round(point.fraction * 100)}% (+${cut.delayMs} ms into the phase), landed in ${cut.landed}`,
          );
          r.metric('cutDelayMs', cut.delayMs);
          // Timed cuts can land in a neighbouring phase (before-switch, with no OS marker at the end
          // of the write): the report says where each one really fell.
          r.metric('landedInPlannedPhase', cut.landed === point.phase ? 1 : 0);
          let follow: FollowResult;
          try {
            follow = await flow.powerOnAndFollow({ newSlot, bootlimit });
          } catch (err) {
            broken = `power cut ${point.index} (${point.phase}, seed ${cuts.seed}): ${errorMessage(err)}`;
            throw err;
          }
          r.metric('bootsAfterCut', follow.attempts.length);
          const after = await stateAfter();
          const judgement = judgeAfterCut(before, bundle.version, after, flow.settings);
          record!.note(`after the cut: ${judgement.state}: ${judgement.reason}`);
          expect(
            judgement.state,
            `a consistent system after a cut in ${cut.landed} (seed ${cuts.seed}): ${judgement.reason}`,
          ).to.not.equal('inconsistent');
          await expectDataIntact();
        }),
      );
    }
  });

  // Its own block, so mocha runs it after the cuts (tests of a block run before its sub-blocks).
  describe('5. repeated update', function () {
    it(
      '5. to the same version: refused clearly or harmless, as the OS profile says',
      recorded(async function () {
        const r = rig();
        const bundle = precondition(this, 'update:v2');
        await ensureData();
        await flow.waitTrialOver(new LogTail(r.console), flow.ms.update);
        let before = await stateBefore();
        if (before.version !== bundle.version) {
          // Not on the bundle's version yet (tests 1 and 4 did not leave it there): get there first.
          record!.note(
            `first updating ${before.version} -> ${bundle.version}, so the next update repeats it`,
          );
          await updateToNewSlot(bundle, before);
          before = await stateBefore();
          expect(before.version, 'version after the first update').to.equal(bundle.version);
        }
        const expected = flow.settings.repeatSameVersion;
        record!.note(`the OS profile says a repeated update is ${expected}`);
        const newSlot = otherSlot(before.slot);
        if (expected === 'refused') {
          const dut = await flow.connect();
          try {
            const { remote } = await flow.copy(dut, bundle);
            const res = await flow.startUpdate(dut, remote, bundle).result;
            // A lost session means the board went ahead and rebooted: that is not a refusal.
            if (res instanceof Error)
              expect.fail(`the update was not refused: its session ended with ${res.message}`);
            const text = `${res.stdout}\n${res.stderr}`.trim();
            expect(res.code, `a refused update exits non-zero with a message: ${text}`).to.not.equal(0);
            expect(text, 'the refusal says why').to.match(/\S/);
          } finally {
            void dut.close().catch(() => {});
          }
          const after = await stateAfter();
          expect([after.slot, after.version], 'slot and version unchanged').to.deep.equal([
            before.slot,
            before.version,
          ]);
        } else {
          await updateToNewSlot(bundle, before);
          const after = await stateAfter();
          expect(after.slot, 'the repeated update runs from the other slot').to.equal(newSlot);
          expect(after.version, 'version after repeating the update').to.equal(bundle.version);
          expect(after.bootenv[flow.settings.trialVariable] ?? '0', 'committed').to.equal('0');
          const { altboot, health } = flow.settings.breadcrumbs;
          expect(
            after.breadcrumbs.filter((b) => b === altboot || b === health),
            'rollback breadcrumbs',
          ).to.deep.equal([]);
        }
        await expectDataIntact();
      }),
    );
  });
});
