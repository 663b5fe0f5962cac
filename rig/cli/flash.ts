import { flash } from '../flash/index.js';
import { maskUrl } from '../log.js';
import { checkSha256, helpText, parseOptions, type OptionTable } from './options.js';
import type { CliCommand } from './io.js';
import { progressView } from './progress.js';

export const OPTIONS = [
  {
    name: 'image',
    value: 'SRC',
    description:
      'raw, .gz, .xz, .zst, .bz2 or .zip image (format from its magic bytes), or an http(s) URL: cached under ~/.cache/hw-test/downloads and revalidated every time (ETag or Last-Modified; a server with neither is downloaded again), resumed after a drop, checked against URL.sha256 when the server publishes one',
  },
  {
    name: 'image-sha256',
    value: 'HEX',
    description: "the image's expected sha256 (a download that differs is refused)",
  },
  {
    name: 'to',
    value: 'DEVICE|FILE',
    description: 'a removable block device, a declared one, or a regular file',
  },
  {
    name: 'bmap',
    value: 'FILE',
    description: 'bmaptool map (default: IMAGE.bmap next to the image, compression suffix stripped)',
  },
  { name: 'no-verify', description: 'skip the read-back verify' },
  {
    name: 'declare',
    value: 'DEVICE',
    description: "allow this non-removable device, as a lab file's mux device does (repeatable)",
    multiple: true,
  },
] as const satisfies OptionTable;

const USAGE = helpText({
  synopsis:
    'Usage:\n  hw-test flash --image SRC --to DEVICE|FILE [--no-verify] [--bmap FILE] [--declare DEVICE]',
  options: OPTIONS,
  notes: `Refuses mounted, root, swap, too-small and undeclared fixed devices, files that back a loop device
or are the image itself, and paths under /dev that are not a device, before writing. Checks each
image before writing where it can be judged whole: xz and zstd indexes, a raw image's bmap
checksums, a gz or bz2 (decompressed once); xz and zstd block checks and a zip's CRC-32 can only be
judged while writing. A regular file is written to a temporary file beside it and renamed over it
only when complete and verified, so a failed flash leaves the old file as it was; a device that
received part of an image that then failed has its first MiB zeroed so that it cannot boot, and the
error says so.`,
});

export const command: CliCommand = {
  summary: 'write an image to a device or file, sparse, with read-back verify',
  usage: USAGE,
  async main(argv, io) {
    const { values } = parseOptions('flash', argv, OPTIONS);
    if (!values.image || !values.to) {
      io.err('hw-test flash: --image and --to are required (see hw-test flash --help)');
      return 2;
    }
    const imageSha256 = checkSha256(values['image-sha256']);
    const view = progressView(io, 'flash');
    let phase = '';
    const res = await flash(values.image, values.to, {
      verify: !values['no-verify'],
      imageSha256,
      bmap: values.bmap,
      declared: values.declare ?? [],
      signal: io.signal,
      onProgress: (p) => {
        if (p.phase !== phase) view.done();
        phase = p.phase;
        view.update(p);
      },
    });
    view.done();
    const mb = (res.bytesWritten / 1e6).toFixed(1);
    io.out(
      `flashed ${maskUrl(res.source)} -> ${res.destination}: ${res.format}, ${res.map} map, ${mb} MB of ` +
        `${(res.imageSize / 1e6).toFixed(1)} MB written in ${res.writeSeconds.toFixed(1)} s ` +
        `(${res.mbPerSecond.toFixed(1)} MB/s${res.direct ? ', direct I/O' : ''})` +
        (res.verified ? `, verified in ${res.verifySeconds.toFixed(1)} s` : ', not verified') +
        (res.sha256
          ? `; downloaded sha256 ${res.sha256}${res.fromCache ? ' (the cached copy, current)' : ''}`
          : ''),
    );
    return 0;
  },
};
