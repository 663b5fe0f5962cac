import type { CliIo } from './io.js';

/** Any byte-counting progress (flash write/verify, downloads): what the renderers draw. */
export interface ByteProgress {
  phase: string;
  bytes: number;
  total: number;
  /** bytes per second */
  rate: number;
  etaSeconds: number;
}

export interface ProgressView {
  update(p: ByteProgress): void;
  /** Ends the current bar (or line); the next update starts a new one. */
  done(): void;
}

const MB = 1e6;

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= MB) return `${(n / MB).toFixed(1)} MB`;
  return `${(n / 1e3).toFixed(0)} kB`;
}

export function formatEta(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}

function percent(p: ByteProgress): number {
  return p.total > 0 ? Math.min(100, (100 * p.bytes) / p.total) : 100;
}

/** One plain line: `flash write  42% 1.20 GB/2.85 GB 31.4 MB/s eta 0:52`. */
export function progressLine(label: string, p: ByteProgress): string {
  return (
    `${label} ${p.phase.padEnd(6)} ${percent(p).toFixed(0).padStart(3)}% ` +
    `${formatBytes(p.bytes)}/${formatBytes(p.total)} ${(p.rate / MB).toFixed(1)} MB/s eta ${formatEta(p.etaSeconds)}`
  );
}

export function progressBar(label: string, p: ByteProgress, width = 30): string {
  const filled = Math.round((percent(p) / 100) * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  return `${label} ${p.phase.padEnd(6)} ${bar} ${percent(p).toFixed(0).padStart(3)}% ${formatBytes(p.bytes)} ${(p.rate / MB).toFixed(1)} MB/s eta ${formatEta(p.etaSeconds)}`;
}

/**
 * On a TTY, a bar redrawn in place (cursor up, clear line: CliIo writes whole lines); in CI or
 * when piped, a plain line per 10 % step and per phase, so logs stay short and greppable.
 */
export function progressView(io: Pick<CliIo, 'err' | 'interactive'>, label: string): ProgressView {
  let drawn = false;
  let phase = '';
  let step = -1;
  return {
    update(p) {
      if (io.interactive) {
        io.err(`${drawn ? '\x1b[1A\x1b[2K' : ''}${progressBar(label, p)}`);
        drawn = true;
        return;
      }
      const s = Math.floor(percent(p) / 10);
      if (p.phase === phase && s === step) return;
      phase = p.phase;
      step = s;
      io.err(progressLine(label, p));
    },
    done() {
      drawn = false;
      phase = '';
      step = -1;
    },
  };
}
