/**
 * Writing an image: source to destination, with progress events.
 *
 * Contract: `flash` writes only to the declared destination (a regular file, or the block device
 * the lab file declares for the board's mux), refuses unsafe targets before writing anything
 * (`InputError` or `InfraError` naming the device and the reason), verifies by reading back unless
 * told not to, and throws an `InfraError` naming the first bad offset on a mismatch.
 */
export interface FlashProgress {
  phase: 'write' | 'verify';
  bytes: number;
  total: number;
  /** bytes per second over the last interval */
  rate: number;
  etaSeconds: number;
}

export interface FlashResult {
  source: string;
  destination: string;
  /** Bytes actually written (mapped ranges for a sparse image). */
  bytesWritten: number;
  imageSize: number;
  verified: boolean;
  writeSeconds: number;
  verifySeconds: number;
  /** Write throughput in MB/s (10^6), for the trends. */
  mbPerSecond: number;
  /** For an image URL, or an image checked against `imageSha256`: the sha256 of the bytes flashed. */
  sha256?: string;
  /** For an image URL: whether the server said the cached copy was current (no body transferred). */
  fromCache?: boolean;
  /** Detected source format (from magic bytes). */
  format?: ImageFormat;
  /** Where the map of written ranges came from: a bmap file, SEEK_DATA holes, or none (all). */
  map?: 'bmap' | 'holes' | 'full';
  /** Whether the target was opened with O_DIRECT. */
  direct?: boolean;
}

export type ImageFormat = 'raw' | 'gz' | 'xz' | 'zst' | 'bz2' | 'zip';

export interface FlashOptions {
  verify?: boolean;
  /** The image's expected sha256 (an image, or an image URL's download, that differs is refused). */
  imageSha256?: string;
  bmap?: string;
  /**
   * Block devices the lab file declares for this board's mux (by-id paths). A declared device is
   * allowed even when it is not removable; any other block device must be removable.
   */
  declared?: string[];
  signal?: AbortSignal;
  onProgress?: (p: FlashProgress) => void;
}

export interface Flasher {
  flash(source: string, destination: string, opts?: FlashOptions): Promise<FlashResult>;
}
