import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { loadBoard } from '../catalog/board.js';
import { InputError } from '../errors.js';
import { optionLines, parseOptions, type OptionTable } from './options.js';
import { CONFIGURE_OPTIONS } from './image-configure.js';
import { CHECK_OPTIONS } from './image-check.js';
import { VARIANTS } from '../image/build.js';
import type { CliCommand, CliIo } from './io.js';

const BUILD_OPTIONS = [
  { name: 'board', value: 'NAME', description: "a virtual board: its reference image's architecture" },
  { name: 'arch', value: 'ARCH', description: 'x86_64 or armv7' },
  { name: 'variant', value: 'V', description: `${VARIANTS.join(' ')} (default: v1)`, default: 'v1' },
  {
    name: 'out',
    value: 'FILE',
    description: 'a copy of the image, yours to keep (default: print the cached path)',
  },
  {
    name: 'bundle-out',
    value: 'FILE',
    description: "a copy of the variant's update bundle (v2, health-fails, unbootable-update)",
  },
  { name: 'force', description: 'build again even when cached' },
  { name: 'quiet-if-cached', description: 'one short line when the image is cached (setup)' },
  {
    name: 'stock',
    value: 'NAME',
    description:
      'a stock distribution image instead (debian-12: debootstrap, root), the worked example of docs/your-os.md',
  },
] as const satisfies OptionTable;

const USAGE = `Usage:
  hw-test image build (--board NAME | --arch x86_64|armv7) --variant V [--out FILE] [--bundle-out FILE]
      builds a variant of the reference OS (cached by the hash of its inputs under ~/.cache/hw-test)
  hw-test image build --stock debian-12 [--out FILE]
      builds a stock distribution image (cached the same way); its OS profile is os/profiles/debian-12.yaml

${optionLines(BUILD_OPTIONS, '    ').join('\n')}

  hw-test image configure [options] IMAGE
      writes the settings into the partition the OS profile names, without mounting it

${optionLines(CONFIGURE_OPTIONS, '    ').join('\n')}

  hw-test image check --os PROFILE [--board NAME] IMAGE
      checks an OS profile against an image before a board is spent on it: its prompts and markers,
      the partition it configures and its filesystem, the files a run writes and their room;
      one line per finding, exit 2 when there is a problem (docs/your-os.md)

${optionLines(CHECK_OPTIONS, '    ').join('\n')}`;

async function build(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions('image build', argv, BUILD_OPTIONS);
  if (values.stock) return buildStock(values.stock, values, io);
  let arch = values.arch;
  if (values.board) {
    const b = loadBoard(values.board);
    if (!b.defaultImage)
      throw new InputError(`--board ${values.board}: the reference OS is built for virtual boards only`);
    arch = b.defaultImage.arch;
  }
  if (arch !== 'x86_64' && arch !== 'armv7')
    throw new InputError('image build: give --board NAME or --arch x86_64|armv7');
  const { ensureImage } = await import('../image/build.js');
  const built = await ensureImage(arch, values.variant, {
    signal: io.signal,
    force: values.force,
    env: io.env,
    onLog: (l) => io.err(l),
  });
  if (built.cached && values['quiet-if-cached'])
    io.err(`setup: ${arch} ${values.variant} image: cached (${built.image})`);
  else
    io.err(
      `${arch} ${values.variant}: ${built.cached ? 'cached' : `built in ${built.seconds.toFixed(1)} s`}: ${built.image}`,
    );
  if (values.out) {
    // A copy the user owns; `cp --sparse` semantics come from copyFile's reflink-or-copy on most filesystems.
    await copyFile(built.image, path.resolve(values.out));
    io.out(path.resolve(values.out));
  } else io.out(built.image);
  if (values['bundle-out']) {
    if (!built.bundle)
      throw new InputError(
        `variant ${values.variant} has no update bundle (bundles: v2, health-fails, unbootable-update)`,
      );
    await copyFile(built.bundle, path.resolve(values['bundle-out']));
    await copyFile(`${built.bundle}.sha256`, `${path.resolve(values['bundle-out'])}.sha256`).catch(() => {});
  }
  return 0;
}

async function buildStock(
  name: string,
  values: { out?: string; force?: boolean; 'quiet-if-cached'?: boolean },
  io: CliIo,
): Promise<number> {
  const { ensureStockImage } = await import('../image/stock.js');
  const built = await ensureStockImage(name, {
    signal: io.signal,
    force: values.force,
    env: io.env,
    onLog: (l) => io.err(l),
  });
  if (built.cached && values['quiet-if-cached']) io.err(`setup: ${name} image: cached (${built.image})`);
  else
    io.err(
      `${name}: ${built.cached ? 'cached' : `built in ${built.seconds.toFixed(1)} s`}: ${built.image} (OS profile ${path.relative(process.cwd(), built.profile)})`,
    );
  if (values.out) {
    await copyFile(built.image, path.resolve(values.out));
    io.out(path.resolve(values.out));
  } else io.out(built.image);
  return 0;
}

async function main(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'build') return build(rest, io);
  if (sub === 'check') {
    const { checkMain } = await import('./image-check.js');
    return checkMain(rest, io);
  }
  if (sub === 'configure') {
    const { configureMain } = await import('./image-configure.js');
    return configureMain(rest, io);
  }
  throw new InputError(
    `image: expected "build", "configure" or "check", got ${sub ? `"${sub}"` : 'nothing'} (see hw-test image --help)`,
  );
}

export const command: CliCommand = {
  summary: 'build, configure or check images (the reference OS, a stock distribution, yours)',
  usage: USAGE,
  main,
};
