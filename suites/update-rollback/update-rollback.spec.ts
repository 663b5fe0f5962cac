import { expect } from 'chai';
import { rig, skipBecause } from '../fixture.js';
import type { BoardState } from './lib/board-state.js';
import { judgeAfterCut, newBreadcrumbs, rollbackProblems, updateProblems } from './lib/consistency.js';
import { cutDuringUpdate } from './lib/cut.js';
import { describePlan, parseCuts, parseSeed, planCuts, type CutPlan } from './lib/powercut.js';
import { UpdateSession, type UpdatePlan } from './lib/session.js';
import type { FollowResult } from './lib/update-flow.js';

/**
 * Update and rollback (issue 7, generalised in issue 17): an update, rollback when the new system
 * cannot boot, rollback when its health check fails, power cuts during the update, and a repeated
 * update. OS-neutral and update-system-neutral: every board-side action is an OS profile command,
 * the bundle goes over SSH, and the suite judges "the booted slot or deployment" as an opaque
 * token (docs/updates.md).
 */
type Ctx = Mocha.Context;

let s: UpdateSession;

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

function quoteAttempts(f: FollowResult): string {
  return (
    f.attempts.map((a, i) => `attempt ${i + 1}: ${a.line}`).join('\n') +
    (f.altboot.length ? `\n${f.altboot.join('\n')}` : '')
  );
}

/** Test 1 and 5's checks of a completed update. */
async function expectUpdated(before: BoardState, p: UpdatePlan): Promise<BoardState> {
  const after = await s.stateAfter();
  if (s.target(p.bundle) === undefined) {
    s.learnedVersion = after.version;
    s.rec.note(
      `the bundle's version is not known to the run: the update brought ${after.version}, taken as its version`,
    );
  }
  expect(updateProblems(before, after, s.target(p.bundle)), 'a completed update').to.deep.equal([]);
  const { altboot, health } = s.flow.settings.breadcrumbs;
  expect(
    newBreadcrumbs(before, after).filter((b) => b === altboot || b === health),
    'rollback breadcrumbs',
  ).to.deep.equal([]);
  expect(await s.dataProblems(), 'the data partition file').to.deep.equal([]);
  return after;
}

/** How each attempt of the new system was counted: 1, 2, ... up, or limit-1, ... down. */
function expectCounted(onNew: FollowResult['attempts'], bootlimit: number, f: FollowResult): void {
  if (onNew.every((a) => a.bootcount !== undefined))
    expect(
      onNew.map((a) => a.bootcount),
      `bootcount of each attempt:\n${quoteAttempts(f)}`,
    ).to.deep.equal(onNew.map((_, i) => i + 1));
  else if (onNew.every((a) => a.left !== undefined))
    expect(
      onNew.map((a) => a.left),
      `attempts left after each attempt:\n${quoteAttempts(f)}`,
    ).to.deep.equal(onNew.map((_, i) => bootlimit - i - 1));
  else s.rec.note('the boot attempt marker carries no counter: the counting is not checked');
}

/** Tests 2 and 3: a bad update must come back to the old system by itself. */
async function rollbackTest(t: Ctx, kind: 'unbootable' | 'unhealthy'): Promise<void> {
  const r = rig();
  const p = s.precondition(t, kind);
  const before = await s.ready(t, p.bundle);
  const bootlimit = s.bootlimit(before);
  if (kind === 'unbootable' && bootlimit === undefined)
    skipBecause(
      t,
      `the OS profile ${r.os.file} gives no update.bootlimit: a fallback cannot be told from endless retries`,
    );
  s.rec.note(`bad update: ${p.how}`);
  const { tail, marks } = await s.install(p, before);
  const follow = await s.flow.followBoots(tail, {
    expect: 'old',
    old: before.booted,
    bootlimit,
    timeoutMs: s.flow.ms.rollback,
  });
  const after = await s.stateAfter();
  const onNew = follow.attempts.filter((a) => (a.slot !== undefined ? a.slot !== before.booted : a.trial));
  r.attach('boot attempts', quoteAttempts(follow) + '\n');
  r.metric('rollbackBoots', follow.attempts.length);
  r.metric('rollbackMs', follow.up.t - marks.switchedAt);
  s.rec.note(
    `back on ${follow.up.slot} after ${follow.attempts.length} boots, ${Math.round((follow.up.t - marks.switchedAt) / 1000)} s after the switch`,
  );

  expect(rollbackProblems(before, after), 'back on the old system').to.deep.equal([]);
  if (!s.flow.settings.markers.bootAttempt)
    s.rec.note('no boot attempt marker: the attempts are not counted');
  else if (kind === 'unbootable') {
    expect(onNew.length, `attempts of the new system:\n${quoteAttempts(follow)}`).to.be.within(1, bootlimit!);
    expectCounted(onNew, bootlimit!, follow);
  }
  const names = s.flow.settings.breadcrumbs;
  const crumbs = r.os.commands.breadcrumbs ? newBreadcrumbs(before, after) : undefined;
  if (kind === 'unbootable') {
    if (crumbs) expect(crumbs, 'breadcrumbs').to.include(names.altboot);
    else expect(follow.altboot, 'a fallback on the console (update.markers.altboot)').to.not.be.empty;
  } else if (crumbs) {
    expect(crumbs, 'breadcrumbs').to.include(names.health);
    expect(crumbs, 'breadcrumbs').to.not.include(names.altboot);
  } else {
    expect(follow.healthFailed, 'a health-check rollback on the console (update.markers.healthFailed)').to.not
      .be.empty;
    expect(follow.altboot, 'no fallback by the bootloader').to.deep.equal([]);
  }
  expect(await s.dataProblems(), 'the data partition file').to.deep.equal([]);
}

async function cutTest(t: Ctx, cuts: CutPlan, point: CutPlan['cuts'][number]): Promise<void> {
  const r = rig();
  const p = s.precondition(t, 'good');
  r.attach('power-cut plan', describePlan(cuts) + '\n');
  const c = s.calibrationFor(p.bundle);
  if (!s.measured && point.phase !== 'copy' && point.phase !== 'after-switch') {
    // Cuts land by time within their phase: one uncut update measures the phases first (test 1
    // does it when it runs; with --grep for the cuts alone, this does).
    s.rec.note('calibrating: one uncut update to measure the phases');
    await s.updateToNew(p, await s.ready(t, p.bundle));
  }
  const before = await s.ready(t, p.bundle);
  const dut = await s.flow.connect();
  const cut = await cutDuringUpdate(s.flow, dut, p.bundle, point, c, before.booted);
  void dut.close().catch(() => {});
  s.rec.note(
    `cut ${point.index}: planned ${point.phase} at ${Math.round(point.fraction * 100)}% (+${cut.delayMs} ms into the phase), landed in ${cut.landed}`,
  );
  r.metric('cutDelayMs', cut.delayMs);
  // Timed cuts can land in a neighbouring phase: the report says where each one really fell.
  r.metric('landedInPlannedPhase', cut.landed === point.phase ? 1 : 0);
  const follow = await s.flow.powerOnAndFollow({ old: before.booted, bootlimit: s.bootlimit(before) });
  r.metric('bootsAfterCut', follow.attempts.length);
  const after = await s.stateAfter();
  const judgement = judgeAfterCut(before, s.target(p.bundle), after);
  s.rec.note(`after the cut: ${judgement.state}: ${judgement.reason}`);
  expect(
    judgement.state,
    `a consistent system after a cut in ${cut.landed} (seed ${cuts.seed}): ${judgement.reason}`,
  ).to.not.equal('inconsistent');
  expect(await s.dataProblems(), 'the data partition file').to.deep.equal([]);
}

async function repeatTest(t: Ctx): Promise<void> {
  const p = s.precondition(t, 'good');
  let before = await s.ready(t, p.bundle);
  if (s.target(p.bundle) !== undefined && before.version !== s.target(p.bundle)) {
    // Not on the bundle's version yet (tests 1 and 4 did not leave it there): get there first.
    s.rec.note(`first updating ${before.version} -> ${s.target(p.bundle)}, so the next update repeats it`);
    await s.updateToNew(p, before);
    await expectUpdated(before, p);
    before = await s.ready(t, p.bundle);
  }
  const expected = s.flow.settings.repeatSameVersion;
  s.rec.note(`the OS profile says a repeated update is ${expected}`);
  if (expected === 'harmless') {
    await s.updateToNew(p, before);
    await expectUpdated(before, p);
    return;
  }
  const dut = await s.flow.connect();
  try {
    const { remote } = await s.flow.copy(dut, p.bundle);
    const res = await s.flow.startUpdate(dut, remote, p.bundle).result;
    await s.flow.removeBundle({ run: (c, o) => dut.exec(c, o) }, remote);
    // A lost session means the board went ahead and rebooted: that is not a refusal.
    if (res instanceof Error)
      expect.fail(`the update was not refused: its session ended with ${res.message}`);
    const text = `${res.stdout}\n${res.stderr}`.trim();
    expect(res.code, `a refused update exits non-zero with a message: ${text}`).to.not.equal(0);
    expect(text, 'the refusal says why').to.match(/\S/);
  } finally {
    void dut.close().catch(() => {});
  }
  const after = await s.stateAfter();
  expect([after.booted, after.version], 'booted system and version unchanged').to.deep.equal([
    before.booted,
    before.version,
  ]);
  expect(await s.dataProblems(), 'the data partition file').to.deep.equal([]);
}

/** A test body run under the session's record (serial logs and variables attached, pass or fail). */
function recorded(fn: (this: Ctx) => Promise<void>): (this: Ctx) => Promise<void> {
  return function (this: Ctx) {
    return s.recorded(fn).call(this);
  };
}

describe('update-rollback', function () {
  before(function () {
    s = new UpdateSession();
  });

  it(
    '1. update succeeds: a new slot or deployment runs the new version, committed, data intact',
    recorded(async function () {
      const p = s.precondition(this, 'good');
      const before = await s.ready(this, p.bundle);
      if (p.bundle.version !== undefined && before.version === p.bundle.version)
        skipBecause(
          this,
          `the board already runs ${before.version}: flash an older image to test an update to it`,
        );
      await s.updateToNew(p, before);
      await expectUpdated(before, p);
    }),
  );

  it(
    '2. rollback when the new system cannot boot: back on the old one by itself (altboot)',
    recorded(async function () {
      await rollbackTest(this, 'unbootable');
    }),
  );

  it(
    '3. rollback when the health check fails: back on the old one, health breadcrumb only',
    recorded(async function () {
      await rollbackTest(this, 'unhealthy');
    }),
  );

  const cuts = plan();
  describe(`4. power cut during the update (seed ${cuts.seed}; replay: --cuts ${cuts.cuts.length} --seed ${cuts.seed})`, function () {
    for (const point of cuts.cuts) {
      it(
        `4.${point.index} cut ${point.index}/${cuts.cuts.length} during ${point.phase} at ${Math.round(point.fraction * 100)}% (seed ${cuts.seed})`,
        recorded(async function () {
          await cutTest(this, cuts, point);
        }),
      );
    }
  });

  // Its own block, so mocha runs it after the cuts (tests of a block run before its sub-blocks).
  describe('5. repeated update', function () {
    it(
      '5. to the same version: refused clearly or harmless, as the OS profile says',
      recorded(async function () {
        await repeatTest(this);
      }),
    );
  });
});
