import type { BoardInstance } from '../board/board.js';
import { failurePatterns, type BoardType } from '../catalog/board.js';
import type { TwoStageResult } from '../flash/two-stage.js';
import type { FlashProgress } from '../flash/flasher.js';
import type { RunSummary } from '../report/model.js';
import { sha256File } from './hash.js';

export interface ProgressSink {
  update(p: FlashProgress): void;
  done(): void;
}

/**
 * The run's working copy: the user's image (any format, or a URL) written out raw and sparse by the
 * flasher itself, so it can be configured for this run without ever touching the original.
 */
export async function sourceToRaw(
  source: string,
  dest: string,
  opts: { signal: AbortSignal; progress?: ProgressSink; imageSha256?: string; cacheDir?: string },
): Promise<{ path: string; sha256: string; fromCache?: boolean }> {
  const { flash } = await import('../flash/index.js');
  // flash() checks --image-sha256 (and a URL's URL.sha256) before writing, revalidates a cached
  // download, and forgets a download that turns out bad, so that the next run fetches it again.
  const res = await flash(source, dest, {
    verify: false,
    imageSha256: opts.imageSha256,
    cacheDir: opts.cacheDir,
    signal: opts.signal,
    onProgress: (p) => opts.progress?.update(p),
  });
  opts.progress?.done();
  return { path: dest, sha256: res.sha256 ?? (await sha256File(source)), fromCache: res.fromCache };
}

/**
 * Flash: the board off, the mux to the host, write (sparse, direct I/O) and read back, the mux to
 * the board. Only the board's declared storage is written.
 */
export async function flashToStorage(
  inst: BoardInstance,
  image: string,
  opts: { signal: AbortSignal; progress?: ProgressSink; deps?: import('../flash/index.js').FlashDeps },
): Promise<NonNullable<RunSummary['flash']>> {
  const { flash, REAL_DEPS } = await import('../flash/index.js');
  await inst.power.off(opts.signal);
  if (inst.mux) await inst.mux.toHost(opts.signal);
  const r = await flash(
    image,
    inst.storage,
    {
      verify: true,
      declared: [inst.storage],
      signal: opts.signal,
      onProgress: (p) => opts.progress?.update(p),
    },
    opts.deps ?? REAL_DEPS,
  );
  opts.progress?.done();
  if (inst.mux) await inst.mux.toBoard(opts.signal);
  return {
    mbPerSecond: r.mbPerSecond,
    bytesWritten: r.bytesWritten,
    seconds: r.writeSeconds + r.verifySeconds,
    verified: r.verified,
  };
}

/**
 * A flasher board's second stage, after the card holds the flasher: boot it, wait until it has
 * written internal storage and powered down, then power off with the card away. The boot suite
 * then boots internal storage, as the board will in the field.
 */
export async function runFlasherStage(
  inst: BoardInstance,
  type: BoardType,
  signal: AbortSignal,
): Promise<TwoStageResult> {
  const { runTwoStage } = await import('../flash/two-stage.js');
  const t = type.timeouts;
  return runTwoStage(inst, {
    // The schema requires markers.flasherDone of flasher boards; the kernel's line is the default.
    flasherDone: type.markers.flasherDone ?? 'reboot: Power down',
    timeoutMs: (t.flasher ?? t.flash ?? 1800) * 1000,
    failOn: failurePatterns(type),
    powerOnAfter: false,
    signal,
  });
}
