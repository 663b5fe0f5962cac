import type { Dut } from '../../fixture.js';
import type { ConsoleLine } from '../../../rig/console/console.js';
import { FailError } from '../../../rig/errors.js';
import { logger } from '../../../rig/log.js';
import { settle } from '../../../rig/util/abort.js';
import { parseBootAttempt } from './boots.js';
import type { Bundle } from './bundle.js';
import { LogTail } from './log-tail.js';
import { cutDelayMs, type CutPhase, type CutPoint, type PhaseDurations } from './powercut.js';
import type { UpdateMarkers } from './settings.js';
import type { RunningUpdate, UpdateFlow, UpdateMarks } from './update-flow.js';

const log = logger('update:cut');

/** Cuts are timed off console markers: read the log often so the cut lands where planned. */
const CUT_POLL_MS = 20;

/** What a calibration (an uncut update) measured, so cuts land by time within their phase. */
export interface Calibration {
  durations: PhaseDurations;
  /** The OS printed a marker when its write ended; without one, `before-switch` is timed. */
  hasVerifyingMarker: boolean;
}

/**
 * What an uncut update measured, into the calibration. The write ends at the verifying marker when
 * the OS prints one (an OSTree deploy after a short delta apply: the write is ~0.5 s, the deploy
 * before the switch ~3 s); timing the write up to the switch would put "write" cuts after it.
 */
export function measurePhases(
  c: Calibration,
  m: Pick<UpdateMarks, 'writingAt' | 'verifyingAt' | 'switchedAt'>,
): void {
  c.hasVerifyingMarker = m.verifyingAt !== undefined;
  if (m.writingAt === undefined) return;
  c.durations.write = (m.verifyingAt ?? m.switchedAt) - m.writingAt;
  if (m.verifyingAt !== undefined) c.durations['before-switch'] = m.switchedAt - m.verifyingAt;
}

/**
 * How long after the verifying marker a before-switch cut falls: a fraction of the measured window,
 * but never in its last half second (about what it takes to see the marker), where the cut would
 * land after the switch. A window of a few hundred ms is cut at once.
 */
export function beforeSwitchDelayMs(delayMs: number, d: PhaseDurations): number {
  return Math.max(0, Math.min(delayMs, d['before-switch'] - SEE_MARKER_MS));
}

const SEE_MARKER_MS = 500;

export interface CutResult {
  point: CutPoint;
  /** ms after the phase began that the power was cut (planned). */
  delayMs: number;
  /** The phase the console shows the cut landed in (a timed cut can land in a neighbour). */
  landed: CutPhase;
  /** The console lines from the start of the update to the cut. */
  lines: ConsoleLine[];
}

/**
 * The phase the console lines (from the start of the update) show the update was in: the last
 * marker seen wins. The copy is before any marker; without a writing marker, the write begins
 * with the update command (its line on the console is not guaranteed: the copy is assumed).
 */
export function phaseAt(lines: readonly ConsoleLine[], markers: UpdateMarkers, old: string): CutPhase {
  let phase: CutPhase = 'copy';
  for (const l of lines) {
    if (phase === 'after-switch') {
      const a = parseBootAttempt(l, markers);
      if (a && (a.slot !== undefined ? a.slot !== old : a.trial === true)) phase = 'first-boot';
    } else if (markers.switched?.test(l.text)) phase = 'after-switch';
    else if (markers.verifying?.test(l.text) && phase !== 'first-boot') phase = 'before-switch';
    else if (markers.writing?.test(l.text) && phase === 'copy') phase = 'write';
  }
  return phase;
}

/**
 * Runs the update on a booted board and cuts the power at `point`. The board stays off: the
 * caller powers it on with `UpdateFlow.powerOnAndFollow` and judges what comes up.
 */
export async function cutDuringUpdate(
  flow: UpdateFlow,
  dut: Dut,
  bundle: Bundle,
  point: CutPoint,
  calibration: Calibration,
  old: string,
): Promise<CutResult> {
  const r = flow.r;
  const tail = new LogTail(r.console, CUT_POLL_MS);
  const ctl = new AbortController();
  const signal = AbortSignal.any([r.signal, ctl.signal]);
  let delayMs = cutDelayMs(point, calibration.durations);
  let running: RunningUpdate | undefined;
  let landed: CutPhase | undefined;
  try {
    if (point.phase === 'copy') {
      const copying = flow.copy(dut, bundle, signal).then(
        () => undefined,
        () => undefined,
      );
      await Promise.race([copying, settle(delayMs, r.signal)]);
    } else {
      const { remote } = await flow.copy(dut, bundle);
      running = flow.startUpdate(dut, remote, bundle);
      const start = await waitPhaseStart(flow, dut, tail, running, point, calibration, old, delayMs);
      delayMs = start.delayMs;
      landed = start.landed;
      await settle(delayMs, r.signal);
    }
    await r.power.off(r.signal);
  } finally {
    ctl.abort(new Error('power cut'));
    running?.abandon();
  }
  const lines = tail.seen.slice();
  // Without console markers the phase is what the suite saw of the command, not what the OS printed.
  landed = markersTell(flow.settings.markers, point.phase)
    ? phaseAt(lines, flow.settings.markers, old)
    : (landed ?? point.phase);
  log('cut #%d planned %s +%d ms, landed in %s', point.index, point.phase, delayMs, landed);
  return { point, delayMs, landed, lines };
}

/** Whether the OS's markers can tell this phase on the console. */
function markersTell(m: UpdateMarkers, phase: CutPhase): boolean {
  switch (phase) {
    case 'copy':
    case 'write':
      return m.writing !== undefined;
    case 'before-switch':
      return m.verifying !== undefined || m.writing !== undefined;
    case 'after-switch':
      return m.switched !== undefined;
    case 'first-boot':
      return m.switched !== undefined && m.bootAttempt !== undefined;
    default:
      return false;
  }
}

/** Waits for a phase marker while the update runs; an OS without that marker starts the phase now. */
function waitMarker(
  flow: UpdateFlow,
  tail: LogTail,
  running: RunningUpdate,
  re: RegExp | undefined,
  what: string,
) {
  if (!re) return Promise.resolve();
  return flow
    .untilOrEnded(
      tail,
      running,
      (l) => (re.test(l.text) ? true : undefined),
      what,
      () => {
        throw new Error(
          `the update command finished without printing ${what}, which the OS profile's markers announce: fix update.markers in ${flow.r.os.file}`,
        );
      },
    )
    .then(() => undefined);
}

/** Reboots into the new system once it is activated, and waits for its first boot attempt. */
async function firstBootStart(
  flow: UpdateFlow,
  dut: Dut,
  tail: LogTail,
  running: RunningUpdate,
  old: string,
) {
  const m = flow.settings.markers;
  const marks = await flow.waitSwitched(tail, running);
  if (!marks.rebooted) await flow.reboot(dut);
  const kernel = new RegExp(flow.r.type.markers.kernel);
  const first = (l: ConsoleLine) => {
    if (!m.bootAttempt) return kernel.test(l.text);
    const a = parseBootAttempt(l, m);
    return a !== undefined && (a.slot !== undefined ? a.slot !== old : a.trial === true);
  };
  await tail.until((l) => (first(l) ? true : undefined), {
    timeoutMs: flow.ms.boot,
    signal: flow.r.signal,
    what: 'the first boot of the new system',
  });
}

/** Waits for the start of the point's phase and returns the delay to cut after it. */
async function waitPhaseStart(
  flow: UpdateFlow,
  dut: Dut,
  tail: LogTail,
  running: RunningUpdate,
  point: CutPoint,
  calibration: Calibration,
  old: string,
  delayMs: number,
): Promise<{ delayMs: number; landed?: CutPhase }> {
  const m = flow.settings.markers;
  switch (point.phase) {
    case 'write':
      await waitMarker(flow, tail, running, m.writing, 'the start of the write');
      return { delayMs };
    case 'before-switch': {
      if (calibration.hasVerifyingMarker && m.verifying) {
        await waitMarker(flow, tail, running, m.verifying, 'the end of the write (verifying marker)');
        return { delayMs: beforeSwitchDelayMs(delayMs, calibration.durations) };
      }
      // No marker at the end of the write: aim at the last moments before the measured switch.
      await waitMarker(flow, tail, running, m.writing, 'the start of the write');
      const d = calibration.durations;
      return { delayMs: Math.max(0, d.write - d['before-switch'] + delayMs) };
    }
    case 'after-switch': {
      const marks = await flow.waitSwitched(tail, running);
      // An agent that reboots by itself is already past the switch: the cut lands in its reset.
      return { delayMs, landed: marks.rebooted ? 'first-boot' : 'after-switch' };
    }
    case 'first-boot':
      await firstBootStart(flow, dut, tail, running, old);
      return { delayMs, landed: 'first-boot' };
    default:
      throw new FailError(`unknown cut phase ${point.phase}`);
  }
}
