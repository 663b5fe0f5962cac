import type { Dut } from '../suite-api/contracts.js';
import type { ConsoleLine } from '../console/console.js';
import { FailError } from '../errors.js';
import { logger } from '../log.js';
import { settle } from '../util/abort.js';
import { parseBootAttempt } from './boots.js';
import type { Bundle } from './bundle.js';
import { LogTail } from './log-tail.js';
import { cutDelayMs, type CutPhase, type CutPoint, type PhaseDurations } from './powercut.js';
import type { UpdateMarkers } from './settings.js';
import { updateFailed, type RunningUpdate, type UpdateFlow } from './update-flow.js';

const log = logger('update:cut');

/** Cuts are timed off console markers: read the log often so the cut lands where planned. */
const CUT_POLL_MS = 20;

/** What a calibration (an uncut update) measured, so cuts land by time within their phase. */
export interface Calibration {
  durations: PhaseDurations;
  /** The OS printed a marker when its write ended; without one, `before-switch` is timed. */
  hasVerifyingMarker: boolean;
}

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
 * marker seen wins. The copy is before any marker.
 */
export function phaseAt(lines: readonly ConsoleLine[], markers: UpdateMarkers, newSlot: string): CutPhase {
  let phase: CutPhase = 'copy';
  for (const l of lines) {
    if (phase === 'after-switch') {
      const a = parseBootAttempt(l, markers);
      if (a?.slot === newSlot) phase = 'first-boot';
    } else if (markers.switched.test(l.text)) phase = 'after-switch';
    else if (markers.verifying.test(l.text) && phase !== 'first-boot') phase = 'before-switch';
    else if (markers.writing.test(l.text) && phase === 'copy') phase = 'write';
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
  newSlot: string,
): Promise<CutResult> {
  const r = flow.r;
  const tail = new LogTail(r.console, CUT_POLL_MS);
  const ctl = new AbortController();
  const signal = AbortSignal.any([r.signal, ctl.signal]);
  let delayMs = cutDelayMs(point, calibration.durations);
  let running: RunningUpdate | undefined;
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
      delayMs = await waitPhaseStart(flow, tail, running, point, calibration, newSlot, delayMs);
      await settle(delayMs, r.signal);
    }
    await r.power.off(r.signal);
  } finally {
    ctl.abort(new Error('power cut'));
    running?.abandon();
  }
  const lines = tail.seen.slice();
  const landed = phaseAt(lines, flow.settings.markers, newSlot);
  log('cut #%d planned %s +%d ms, landed in %s', point.index, point.phase, delayMs, landed);
  return { point, delayMs, landed, lines };
}

/** Waits for the start of the point's phase and returns the delay to cut after it. */
async function waitPhaseStart(
  flow: UpdateFlow,
  tail: LogTail,
  running: RunningUpdate,
  point: CutPoint,
  calibration: Calibration,
  newSlot: string,
  delayMs: number,
): Promise<number> {
  const m = flow.settings.markers;
  let ended: Awaited<RunningUpdate['result']> | undefined;
  void running.result.then((x) => (ended = x));
  const wait = async (test: (l: ConsoleLine) => boolean, what: string) => {
    try {
      await tail.until((l) => (test(l) ? true : undefined), {
        timeoutMs: flow.ms.update,
        signal: flow.r.signal,
        what,
      });
    } catch (err) {
      if (ended !== undefined && (ended instanceof Error || ended.code !== 0))
        throw updateFailed(running.command, ended);
      throw err;
    }
  };
  switch (point.phase) {
    case 'write':
      await wait((l) => m.writing.test(l.text), 'the start of the write');
      return delayMs;
    case 'before-switch': {
      if (calibration.hasVerifyingMarker) {
        await wait((l) => m.verifying.test(l.text), 'the end of the write (verifying marker)');
        // The window from the end of the write to the switch is a few hundred ms, about what it
        // takes to see the marker: cut at once, or the cut lands after the switch.
        return 0;
      }
      // No marker at the end of the write: aim at the last moments before the measured switch.
      await wait((l) => m.writing.test(l.text), 'the start of the write');
      const d = calibration.durations;
      return Math.max(0, d.write - d['before-switch'] + delayMs);
    }
    case 'after-switch':
      await wait((l) => m.switched.test(l.text), 'the switch to the new slot');
      return delayMs;
    case 'first-boot':
      await wait((l) => m.switched.test(l.text), 'the switch to the new slot');
      await wait((l) => parseBootAttempt(l, m)?.slot === newSlot, `the first boot of slot ${newSlot}`);
      return delayMs;
    default:
      throw new FailError(`unknown cut phase ${point.phase}`);
  }
}
