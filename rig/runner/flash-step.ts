import { realSpawner, runChecked } from '../util/spawn.js';
import { sha256File, type RunEvents } from './run-board.js';
import type { RunSummary } from '../report/model.js';

// Interim: a sparse copy until the flasher (rig/flash) lands; the run's step names stay the same.
export async function sourceToRaw(
  source: string,
  dest: string,
  opts: { signal: AbortSignal },
): Promise<{ path: string; sha256: string }> {
  const sha256 = await sha256File(source);
  await runChecked(realSpawner, 'cp', ['--sparse=always', source, dest], { signal: opts.signal });
  return { path: dest, sha256 };
}

export async function flashToStorage(
  image: string,
  storage: string,
  opts: { signal: AbortSignal; declared: string[]; interactive: boolean; events: RunEvents; board: string },
): Promise<RunSummary['flash']> {
  const t0 = Date.now();
  await runChecked(realSpawner, 'cp', ['--sparse=always', image, storage], { signal: opts.signal });
  const seconds = (Date.now() - t0) / 1000;
  return { mbPerSecond: 0, bytesWritten: 0, seconds, verified: false };
}
