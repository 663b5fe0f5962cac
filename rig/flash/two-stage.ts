import type { Console, FailurePattern } from '../console/console.js';
import { InfraError, TimeoutError } from '../errors.js';
import { logger } from '../log.js';
import type { PowerSwitch } from '../power/power-switch.js';
import type { SdMux } from '../sdmux/sd-mux.js';
import { abortPromise, settle } from '../util/abort.js';

const log = logger('flash:two-stage');

/** A power switch that can read the board's current (some PDUs and USB power meters can). */
export interface CurrentSensor {
  /** The board's current draw in amperes. */
  current(signal?: AbortSignal): Promise<number>;
}

/** The parts of a board instance that the two-stage sequence drives. */
export interface TwoStageBoard {
  readonly name: string;
  readonly power: PowerSwitch & Partial<CurrentSensor>;
  readonly mux?: SdMux;
  readonly console: Console;
}

export interface TwoStageOptions {
  /** The board type's `markers.flasherDone` (a regex), e.g. `reboot: Power down`. */
  flasherDone: string;
  /** How long the flasher may take to write internal storage. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Below this current (A) the board counts as powered down by the flasher (default 0.05). */
  idleCurrentA?: number;
  /** The sensor's sampling period: it can only be polled (default 1000 ms). */
  currentPollMs?: number;
  /** Console lines that end the flasher stage at once as failed (a panic, the flasher's own error). */
  failOn?: FailurePattern[];
  /**
   * Power on again from internal storage at the end (default true). The run leaves the board off
   * with the card away, and its boot suite powers on and times the boot from internal storage.
   */
  powerOnAfter?: boolean;
}

export interface TwoStageResult {
  /** What told us the flasher was done. */
  doneBy: 'console' | 'current';
  flasherMs: number;
}

async function currentDrops(
  sensor: CurrentSensor,
  idle: number,
  pollMs: number,
  signal: AbortSignal,
  onDraw: () => void,
): Promise<void> {
  // The board must first be seen drawing current, so a slow power-on does not pass as "done".
  let seenOn = false;
  for (;;) {
    const a = await sensor.current(signal);
    if (a > idle) {
      seenOn = true;
      onDraw();
    } else if (seenOn) return;
    await settle(pollMs, signal);
  }
}

/**
 * Boards that boot a flasher from SD to write their internal storage (intel-nuc, beaglebone-black):
 * 1. boot the flasher from the card (mux to the board, power on);
 * 2. wait for it to finish: the console's `flasherDone` line, or the current falling to idle;
 * 3. power off, move the card to the host side (the one state every mux has where the board cannot
 *    see it: `off` leaves a mux without a card-power pin on the board side), and power on.
 * The caller has already written the flasher image to the card. The flasher not finishing in time
 * is the image's fault (`fail`), unless the board never spoke nor drew current (`infra`).
 */
export async function runTwoStage(board: TwoStageBoard, o: TwoStageOptions): Promise<TwoStageResult> {
  const started = Date.now();
  await board.power.off(o.signal);
  await board.mux?.toBoard(o.signal);
  board.console.skipPending();
  const bytesAtOn = board.console.bytesReceived;
  await board.power.on(o.signal);
  log('%s: flasher booting', board.name);

  const stop = new AbortController();
  // A board seen drawing current is alive, even with a silent console.
  let seenCurrent = false;
  const outer = abortPromise(o.signal);
  const waits: Promise<TwoStageResult['doneBy']>[] = [
    board.console
      .expect(new RegExp(o.flasherDone), {
        timeoutMs: o.timeoutMs,
        signal: stop.signal,
        failOn: o.failOn,
        what: `the flasher to finish (${o.flasherDone})`,
        errorClass: 'fail',
      })
      .then(() => 'console' as const),
  ];
  if (typeof board.power.current === 'function') {
    const sensor = board.power as CurrentSensor;
    waits.push(
      currentDrops(sensor, o.idleCurrentA ?? 0.05, o.currentPollMs ?? 1000, stop.signal, () => {
        seenCurrent = true;
      }).then(() => 'current' as const),
    );
  }
  let doneBy: TwoStageResult['doneBy'];
  try {
    doneBy = await Promise.race([...waits, outer.promise]);
  } catch (err) {
    if (err instanceof TimeoutError) {
      err.context.board = board.name;
      // Not one byte from a board just powered on: the serial wiring or the power, not the image.
      if (board.console.bytesReceived === bytesAtOn && !seenCurrent) {
        throw new InfraError(
          `no output at all on ${board.console.name} while waiting for the flasher to finish: check the serial wiring and the power switch`,
          err.context,
        );
      }
    }
    throw err;
  } finally {
    stop.abort();
    outer.dispose();
    for (const w of waits) w.catch(() => {});
  }
  const flasherMs = Date.now() - started;
  log('%s: flasher done (%s) after %d ms', board.name, doneBy, flasherMs);

  await board.power.off(o.signal);
  await board.mux?.toHost(o.signal);
  board.console.skipPending();
  if (o.powerOnAfter !== false) await board.power.on(o.signal);
  return { doneBy, flasherMs };
}
