import { flash } from '../flash/index.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import type { CliCommand } from './io.js';
import { progressView } from './progress.js';

const OPTIONS = [
  {
    name: 'image',
    value: 'SRC',
    description:
      'raw, .gz, .xz, .zst, .bz2 or .zip image (format from its magic bytes), or an http(s) URL (cached under ~/.cache/hw-test/downloads, resumed after a drop)',
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
  notes:
    'Refuses mounted, root, swap, too-small and undeclared fixed devices, and bad images, before writing.',
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
    const view = progressView(io, 'flash');
    let phase = '';
    const res = await flash(values.image, values.to, {
      verify: !values['no-verify'],
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
      `flashed ${res.source} -> ${res.destination}: ${res.format}, ${res.map} map, ${mb} MB of ` +
        `${(res.imageSize / 1e6).toFixed(1)} MB written in ${res.writeSeconds.toFixed(1)} s ` +
        `(${res.mbPerSecond.toFixed(1)} MB/s${res.direct ? ', direct I/O' : ''})` +
        (res.verified ? `, verified in ${res.verifySeconds.toFixed(1)} s` : ', not verified'),
    );
    return 0;
  },
};
