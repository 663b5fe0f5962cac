import { rig, skipBecause, type SuiteContext } from '../../fixture.js';
import { REFERENCE_OS } from '../../../rig/catalog/os-profile.js';
import { InfraError, errorMessage } from '../../../rig/errors.js';
import { dutRunner, type BoardState } from './board-state.js';
import { remoteBundlePath, resolveBundle, type Bundle, type BundleKind } from './bundle.js';
import { measurePhases, type Calibration } from './cut.js';
import { LogTail } from './log-tail.js';
import { defaultDurations } from './powercut.js';
import { TestRecord, dataFileProblems, writeDataFile, type DataFile } from './record.js';
import { missingCommands } from './settings.js';
import { UpdateFlow, type FollowResult, type SabotageKind, type UpdateMarks } from './update-flow.js';

type Ctx = Mocha.Context;

/** What a test installs: a bundle, and the profile's sabotage of it when it has no broken bundle. */
export interface UpdatePlan {
  bundle: Bundle;
  sabotage?: SabotageKind;
  /** For the report: where the bad update comes from. */
  how: string;
}

export interface Installed {
  tail: LogTail;
  marks: UpdateMarks;
  copyMs: number;
}

/**
 * The update-rollback suite's state across its tests: the board's known condition, the data
 * file, the calibration of the power cuts. Each test starts from a state it has checked: a test
 * that stopped mid-update leaves the board power-cycled for the next one, and a board that does not
 * come back makes the later tests skip, saying after which test.
 */
export class UpdateSession {
  readonly flow: UpdateFlow;
  record: TestRecord | undefined;
  data: DataFile | undefined;
  /** Why the board cannot be used by later tests (it was left unbootable). */
  broken: string | undefined;
  /** The test that stopped mid-update: the board is in an unknown state until power-cycled. */
  dirty: string | undefined;
  /** Phase durations: guesses until an uncut update measures them. */
  calibration: Calibration | undefined;
  /** Whether an uncut update of this run has measured the phases. */
  measured = false;
  /** The good bundle's version, learned from a completed update when the run did not say it. */
  learnedVersion: string | undefined;
  /** The boot failed before this suite started (another suite's finding): nothing to update. */
  readonly startFailure: Error | undefined;

  constructor(readonly r: SuiteContext = rig()) {
    this.flow = new UpdateFlow(r);
    this.startFailure = r.boot.failure;
  }

  get rec(): TestRecord {
    if (!this.record) throw new Error('no test record: tests run inside recorded()');
    return this.record;
  }

  /** The version a completed update must run: the bundle's, else the one learned in this run. */
  target(bundle: Bundle): string | undefined {
    return bundle.version ?? this.learnedVersion;
  }

  /** Skips with the reason when the board, the OS profile or the run cannot do this test. */
  precondition(t: Ctx, kind: BundleKind): UpdatePlan {
    const r = this.r;
    if (!r.type.capabilities.includes('update'))
      skipBecause(t, `${r.type.name} has no update capability (boards/${r.type.name}.yaml)`);
    const missing = missingCommands(r.os);
    if (missing.length)
      skipBecause(
        t,
        `the OS profile ${r.os.file} has no commands.${missing.join(', commands.')}: it cannot be updated OS-neutrally`,
      );
    if (this.startFailure)
      skipBecause(t, `the board did not boot earlier in this run: ${this.startFailure.message}`);
    if (this.broken) skipBecause(t, `the board was left unusable by an earlier test: ${this.broken}`);
    // Copying the bundle over the console at 115200 baud would take most of an hour per update.
    if (!r.network)
      skipBecause(
        t,
        'no network to the board: the bundle is copied over SSH, and this OS profile offers no console transfer',
      );
    const good = resolveBundle(r.artifacts, 'good', r.options['update-bundle-version']);
    if (kind !== 'good') {
      const bad = resolveBundle(r.artifacts, kind);
      if (!('missing' in bad)) return { bundle: bad, how: `the ${kind} bundle ${bad.path}` };
      if (this.flow.settings.sabotage[kind] && !('missing' in good))
        return { bundle: good, sabotage: kind, how: `the good bundle, then update.sabotage.${kind}` };
      skipBecause(
        t,
        `${bad.missing}, and the OS profile ${r.os.file} has no update.sabotage.${kind} to break a good one`,
      );
    }
    if ('missing' in good) {
      // The runner builds the reference OS's bundles for virtual boards: none is the rig's fault,
      // not a reason to skip (a skipped suite must not read as green).
      if (r.type.defaultImage && r.os.file === REFERENCE_OS)
        throw new InfraError(good.missing, { board: r.boardName });
      skipBecause(t, good.missing);
    }
    return { bundle: good, how: `the bundle ${good.path}` };
  }

  calibrationFor(bundle: Bundle): Calibration {
    this.calibration ??= {
      durations: defaultDurations(bundle.bytes, this.r.type.timeouts.update ?? 300),
      hasVerifyingMarker: false,
    };
    return this.calibration;
  }

  /**
   * Brings the board to a checked state: at a shell, no trial pending, no bundle of an earlier test
   * left, breadcrumbs cleared; power-cycled first when the previous test stopped mid-update.
   */
  async ready(t: Ctx, bundle: Bundle): Promise<BoardState> {
    const flow = this.flow;
    if (this.dirty) {
      const after = this.dirty;
      this.rec.note(
        `the previous test (${after}) stopped mid-update: power-cycling the board to start from a known state`,
      );
      try {
        await this.r.boot.reboot({ hard: true, signal: this.r.signal });
        await flow.shell();
        this.dirty = undefined;
      } catch (err) {
        this.broken = `it did not come back after a power cycle following "${after}": ${errorMessage(err)}`;
        skipBecause(t, `the board was left unusable by an earlier test: ${this.broken}`);
      }
    }
    await flow.shell();
    // A trial left by the previous test (or every boot's, on RAUC) ends before the next update.
    await flow.waitTrialOver(new LogTail(this.r.console), flow.ms.update);
    this.data ??= await writeDataFile(flow);
    const runner = await flow.shell();
    await flow.removeBundle(runner, remoteBundlePath(flow.settings.bundleDir, bundle));
    await flow.clearBreadcrumbs(runner);
    this.rec.before = await flow.state(runner);
    return this.rec.before;
  }

  async stateAfter(): Promise<BoardState> {
    this.rec.after = await this.flow.state();
    return this.rec.after;
  }

  async dataProblems(): Promise<string[]> {
    if (!this.data) return [];
    return dataFileProblems(this.flow, await this.flow.shell(), this.data);
  }

  /** The bootloader's limit of attempts of a new system, as the OS profile says it is read. */
  bootlimit(before: BoardState): number | undefined {
    return before.bootlimit;
  }

  /**
   * Copies the bundle, runs the update until it has activated the new system, removes the bundle,
   * runs the sabotage if any, and reboots. The bundle never stays on the board, even when the
   * update fails.
   */
  async install(plan: UpdatePlan, before: BoardState): Promise<Installed> {
    const flow = this.flow;
    const dut = await flow.connect();
    try {
      const copy = await flow.copy(dut, plan.bundle);
      this.rec.note(
        `copied ${plan.bundle.path} (${plan.bundle.bytes} bytes) to ${copy.remote} in ${copy.ms} ms`,
      );
      const tail = new LogTail(this.r.console);
      const running = flow.startUpdate(dut, copy.remote, plan.bundle);
      let marks: UpdateMarks | undefined;
      try {
        marks = await flow.waitSwitched(tail, running);
      } finally {
        if (!marks?.rebooted) await flow.removeBundle(dutRunner(dut), copy.remote);
      }
      if (plan.sabotage) {
        if (marks.rebooted)
          throw new Error(
            `\`${running.command}\` rebooted by itself: update.sabotage.${plan.sabotage} had no moment to run`,
          );
        const cmd = await flow.sabotage(dutRunner(dut), plan.sabotage, before);
        this.rec.note(`sabotaged the new system before its first boot: ${cmd}`);
      }
      if (!marks.rebooted) await flow.reboot(dut);
      return { tail, marks, copyMs: copy.ms };
    } finally {
      void dut.close().catch(() => {});
    }
  }

  /**
   * A whole update to a new slot or deployment: install, reboot, commit. Its phase durations
   * calibrate the power cuts; the metrics go to the current test.
   */
  async updateToNew(plan: UpdatePlan, before: BoardState): Promise<FollowResult> {
    const flow = this.flow;
    const { tail, marks, copyMs } = await this.install(plan, before);
    const follow = await flow.followBoots(tail, {
      expect: 'new',
      old: before.booted,
      oldVersion: before.version,
      bootlimit: this.bootlimit(before),
      timeoutMs: flow.ms.update,
    });
    await flow.waitTrialOver(tail, flow.ms.update);
    const c = this.calibrationFor(plan.bundle);
    const first = follow.attempts.find((a) => a.slot !== before.booted);
    c.durations.copy = copyMs;
    measurePhases(c, marks);
    if (first) c.durations['first-boot'] = follow.up.t - first.t;
    this.measured = true;
    this.r.metric('copyMs', copyMs);
    if (marks.writingAt !== undefined) this.r.metric('writeMs', c.durations.write);
    if (marks.verifyingAt !== undefined) this.r.metric('beforeSwitchMs', c.durations['before-switch']);
    this.r.metric('switchToUserspaceMs', follow.up.t - marks.switchedAt);
    this.rec.note(
      `phase durations now: ${JSON.stringify(c.durations)}; verifying marker: ${c.hasVerifyingMarker}`,
    );
    return follow;
  }

  /** Runs a test body and attaches, within the test, its serial logs and variables (pass or fail). */
  recorded(fn: (this: Ctx) => Promise<void>): (this: Ctx) => Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const session = this;
    return async function (this: Ctx) {
      session.record = new TestRecord(session.r);
      let failure: string | undefined;
      try {
        await fn.call(this);
      } catch (err) {
        // A skip is mocha's Pending: nothing ran, nothing to attach.
        if (err instanceof Error || typeof err !== 'object' || err?.constructor?.name !== 'Pending') {
          failure = errorMessage(err);
          // A failed expectation comes after the flow ended at a shell; anything else stopped it midway.
          if (!(err instanceof Error && err.name === 'AssertionError')) session.dirty ??= this.test?.title;
          session.record.attachAll(session.flow.settings.markers, failure);
        }
        throw err;
      }
      session.record.attachAll(session.flow.settings.markers);
    };
  }
}
