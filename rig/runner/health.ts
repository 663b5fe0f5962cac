import { mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Verdict } from '../errors.js';
import { maskDeep } from '../log.js';
import { writeAtomic } from '../report/summary.js';
import { withHostMutex } from '../util/host-mutex.js';

/**
 * Per-board health on this host, as LAVA keeps device health: consecutive infra results mark a
 * board quarantined, and runs skip it (verdict infra) until `hw-test health-check` passes. A fail
 * says nothing against the rig: it resets the count like a pass.
 */
export interface BoardHealth {
  consecutiveInfra: number;
  quarantined: boolean;
  since?: string;
  reason?: string;
  lastVerdict?: Verdict;
  lastRun?: string;
}

export type HealthFile = Record<string, BoardHealth>;

export const DEFAULT_QUARANTINE_AFTER = 3;

export function healthPath(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.HW_TEST_HEALTH ??
    path.join(env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state'), 'hw-test', 'health.json')
  );
}

export async function readHealth(file: string): Promise<HealthFile> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as HealthFile;
  } catch {
    return {};
  }
}

export async function boardHealth(file: string, board: string): Promise<BoardHealth> {
  return (await readHealth(file))[board] ?? { consecutiveInfra: 0, quarantined: false };
}

/** Writes one board's entry: read, change and write under a host-wide mutex, so no update is lost. */
async function update(
  file: string,
  board: string,
  change: (h: BoardHealth) => BoardHealth,
): Promise<BoardHealth> {
  await mkdir(path.dirname(file), { recursive: true });
  return withHostMutex(path.resolve(file), async () => {
    const all = await readHealth(file);
    const h = change(all[board] ?? { consecutiveInfra: 0, quarantined: false });
    all[board] = h;
    // The reason quotes the run's error: an image URL with a password, a line a board echoed.
    await writeAtomic(file, `${JSON.stringify(maskDeep(all), null, 2)}\n`);
    return h;
  });
}

/**
 * Records a run's verdict; returns the board's health after it. `strike: false` for an infra
 * result that is not the board rig's fault (busy, a download server): recorded, never counted.
 */
export async function recordVerdict(
  file: string,
  board: string,
  verdict: Verdict,
  message: string | undefined,
  threshold = DEFAULT_QUARANTINE_AFTER,
  o: { strike?: boolean } = {},
): Promise<BoardHealth> {
  return update(file, board, (h) => {
    h.lastVerdict = verdict;
    h.lastRun = new Date().toISOString();
    if (verdict === 'infra' && o.strike !== false) {
      h.consecutiveInfra += 1;
      if (!h.quarantined && h.consecutiveInfra >= threshold) {
        h.quarantined = true;
        h.since = h.lastRun;
        h.reason = `${h.consecutiveInfra} consecutive infra failures; last: ${message ?? 'unknown'}`;
      }
    } else if (verdict === 'pass' || verdict === 'fail' || verdict === 'error') {
      h.consecutiveInfra = 0;
    }
    return h;
  });
}

/** A passed health check lifts the quarantine. */
export async function clearQuarantine(file: string, board: string): Promise<void> {
  await update(file, board, () => ({
    consecutiveInfra: 0,
    quarantined: false,
    lastVerdict: 'pass',
    lastRun: new Date().toISOString(),
  }));
}
