import { expect } from 'chai';
import { InputError } from '../../rig/errors.js';
import {
  CUT_PHASES,
  DEFAULT_CUTS,
  cutDelayMs,
  defaultDurations,
  describePlan,
  parseCuts,
  parseSeed,
  planCuts,
  type CutPhase,
} from '../../suites/update-rollback/lib/powercut.js';
import { beforeSwitchDelayMs, measurePhases } from '../../suites/update-rollback/lib/cut.js';

describe('power-cut planner', function () {
  it('is deterministic for a seed, and the seed changes the plan', function () {
    expect(planCuts(5, 42)).to.deep.equal(planCuts(5, 42));
    expect(planCuts(40, 0xdeadbeef)).to.deep.equal(planCuts(40, 0xdeadbeef));
    const distinct = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((s) => JSON.stringify(planCuts(5, s).cuts)));
    expect(distinct.size, 'plans of 8 seeds').to.be.greaterThan(6);
  });

  it('replays the plan a report printed: a seed gives the same cuts in every version', function () {
    // Golden: changing the PRNG or the algorithm would make old seeds in reports useless.
    expect(planCuts(5, 1234)).to.deep.equal({
      seed: 1234,
      cuts: GOLDEN_1234,
    });
  });

  it('covers every phase once at the default 5 points, for any seed', function () {
    expect(DEFAULT_CUTS).to.equal(5);
    for (let seed = 0; seed < 300; seed++) {
      const phases = planCuts(DEFAULT_CUTS, seed).cuts.map((c) => c.phase);
      expect([...phases].sort(), `seed ${seed}`).to.deep.equal([...CUT_PHASES].sort());
    }
  });

  it('spreads --cuts N evenly over the phases, every 5 consecutive cuts covering all of them', function () {
    for (const n of [1, 3, 7, 23, 100]) {
      const plan = planCuts(n, 99);
      expect(plan.cuts).to.have.length(n);
      expect(plan.cuts.map((c) => c.index)).to.deep.equal([...Array(n).keys()].map((i) => i + 1));
      const count = new Map<CutPhase, number>();
      for (const c of plan.cuts) count.set(c.phase, (count.get(c.phase) ?? 0) + 1);
      for (const p of CUT_PHASES) {
        expect(count.get(p) ?? 0, `${p} in ${n} cuts`).to.be.within(Math.floor(n / 5), Math.ceil(n / 5));
      }
      for (let i = 0; i + 5 <= n; i += 5) {
        expect(
          new Set(plan.cuts.slice(i, i + 5).map((c) => c.phase)).size,
          `cuts ${i + 1}-${i + 5}`,
        ).to.equal(5);
      }
    }
  });

  it('sweeps each phase from start to end in a soak (one cut per stratum of the phase)', function () {
    const plan = planCuts(50, 7);
    for (const p of CUT_PHASES) {
      const fractions = plan.cuts
        .filter((c) => c.phase === p)
        .map((c) => c.fraction)
        .sort((a, b) => a - b);
      expect(fractions).to.have.length(10);
      fractions.forEach((f, k) => {
        expect(f, `${p} cut ${k + 1} of 10`).to.be.at.least(0.05 + (0.9 * k) / 10 - 1e-4);
        expect(f, `${p} cut ${k + 1} of 10`).to.be.below(0.05 + (0.9 * (k + 1)) / 10 + 1e-4);
      });
    }
  });

  it('keeps every cut inside its phase, away from the edges', function () {
    for (let seed = 0; seed < 50; seed++) {
      for (const c of planCuts(25, seed).cuts) expect(c.fraction).to.be.within(0.05, 0.95);
    }
  });

  it('refuses a number of cuts that is not a whole number from 1', function () {
    for (const bad of [0, -1, 2.5, NaN, 100000])
      expect(() => planCuts(bad, 1), String(bad)).to.throw(InputError, /--cuts/);
  });

  it('parses --cuts and --seed, and says what is wrong with bad values', function () {
    expect(parseCuts(undefined)).to.equal(5);
    expect(parseCuts('12')).to.equal(12);
    for (const bad of ['0', 'x', '3.5', '-2', '1e3'])
      expect(() => parseCuts(bad), bad).to.throw(InputError, /--cuts/);
    expect(parseSeed('1234')).to.equal(1234);
    expect(parseSeed('0xff')).to.equal(255);
    expect(parseSeed('4294967295')).to.equal(4294967295);
    for (const bad of ['abc', '4294967296', '-1', '0x123456789', '1.5'])
      expect(() => parseSeed(bad), bad).to.throw(InputError, /--seed/);
    const random = parseSeed(undefined);
    expect(Number.isInteger(random) && random >= 0 && random < 2 ** 32).to.equal(true);
  });

  it('turns a cut into a delay into its phase, and prints the seed to replay it', function () {
    const d = defaultDurations(21_000_000, 300);
    expect(d.copy).to.equal(10500);
    expect(d.write).to.equal(75000);
    expect(cutDelayMs({ index: 1, phase: 'write', fraction: 0.5 }, d)).to.equal(37500);
    expect(cutDelayMs({ index: 1, phase: 'first-boot', fraction: 0.25 }, d)).to.equal(5000);
    const text = describePlan(planCuts(5, 1234));
    expect(text).to.contain('seed=1234').and.contain('--cuts 5 --seed 1234');
    for (const p of CUT_PHASES) expect(text).to.contain(p);
  });
});

const GOLDEN_1234: { index: number; phase: CutPhase; fraction: number }[] = [
  { index: 1, phase: 'first-boot', fraction: 0.0869 },
  { index: 2, phase: 'write', fraction: 0.156 },
  { index: 3, phase: 'after-switch', fraction: 0.1956 },
  { index: 4, phase: 'before-switch', fraction: 0.7725 },
  { index: 5, phase: 'copy', fraction: 0.409 },
];

describe('power-cut calibration from an uncut update', function () {
  const fresh = () => ({ durations: defaultDurations(12_000, 300), hasVerifyingMarker: false });

  it('times the write up to the verifying marker, and the window from it to the switch (OSTree: a short write, a long deploy)', function () {
    const c = fresh();
    measurePhases(c, { writingAt: 10_000, verifyingAt: 10_500, switchedAt: 13_600 });
    expect(c.durations.write).to.equal(500);
    expect(c.durations['before-switch']).to.equal(3100);
    expect(c.hasVerifyingMarker).to.equal(true);
    // A before-switch cut then falls inside the deploy, clear of its last half second.
    expect(
      beforeSwitchDelayMs(
        cutDelayMs({ index: 1, phase: 'before-switch', fraction: 0.5 }, c.durations),
        c.durations,
      ),
    ).to.equal(1550);
    expect(
      beforeSwitchDelayMs(
        cutDelayMs({ index: 1, phase: 'before-switch', fraction: 0.95 }, c.durations),
        c.durations,
      ),
    ).to.equal(2600);
  });

  it('without a verifying marker, the write lasts until the switch and the before-switch guess stays', function () {
    const c = fresh();
    measurePhases(c, { writingAt: 10_000, switchedAt: 14_000 });
    expect(c.durations.write).to.equal(4000);
    expect(c.durations['before-switch']).to.equal(500);
    expect(c.hasVerifyingMarker).to.equal(false);
  });

  it('a window of a few hundred ms after the verifying marker is cut at once', function () {
    const c = fresh();
    measurePhases(c, { writingAt: 0, verifyingAt: 2000, switchedAt: 2300 });
    expect(beforeSwitchDelayMs(150, c.durations)).to.equal(0);
  });
});
