/**
 * Flash benchmark (not part of `npm test`): `npm run bench:flash` (as root, for loop devices and
 * drop_caches). Builds the images once under ~/.cache/hw-test/bench, writes each to a loop device
 * (or a file without root), alternating dd, bmaptool copy, hw-test with and without verify, and
 * writes the medians and ratios to docs/benchmarks.md (section "## Flashing").
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  writeSync,
  readFileSync,
  writeFileSync,
  ftruncateSync,
  rmSync,
} from 'node:fs';
import { cpus, homedir, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import { nativeXz } from '../rig/flash/xz.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/rig/cli/main.js');
const DIR = join(homedir(), '.cache/hw-test/bench');
const GiB = 1 << 30;
const MiB = 1 << 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function sh(cmd: string): void {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd}: exit ${r.status}: ${r.stderr.toString().trim()}`);
}

/** Compressible like an OS image: runs of random bytes, text and zeros in each extent. */
function fill(fd: number, start: number, length: number): void {
  const text = Buffer.from(
    'usr/lib/x86_64-linux-gnu/libfoo.so.1 ELF 64-bit LSB shared object\n'.repeat(1024),
  );
  for (let off = 0; off < length; off += MiB) {
    const n = Math.min(MiB, length - off);
    const b = Buffer.alloc(n);
    randomBytes(n >> 1).copy(b, 0);
    text.copy(b, n >> 1, 0, Math.min(text.length, n - (n >> 1)));
    writeSync(fd, b, 0, n, start + off);
  }
}

function buildSparse(path: string, size: number, mappedFraction: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  // A partition table and boot area up front, then extents spread over the image, like a rootfs.
  fill(fd, 0, 8 * MiB);
  const extents = 96;
  const per = Math.floor((size * mappedFraction - 8 * MiB) / extents / 4096) * 4096;
  const stride = Math.floor((size - 8 * MiB) / extents / 4096) * 4096;
  for (let i = 0; i < extents; i++) fill(fd, 8 * MiB + i * stride, per);
  closeSync(fd);
}

function images(): Record<string, string> {
  mkdirSync(DIR, { recursive: true });
  const sparse = join(DIR, 'sparse-2g.img');
  const full = join(DIR, 'full-1g.img');
  if (!existsSync(`${sparse}.bmap`)) {
    console.error('building a 2 GiB image, 20% mapped ...');
    buildSparse(sparse, 2 * GiB, 0.2);
    sh(`bmaptool create -o ${sparse}.bmap ${sparse}`);
  }
  if (!existsSync(`${sparse}.xz`)) {
    console.error('xz ...');
    sh(`xz -T0 -k -f ${sparse}`);
  }
  if (!existsSync(`${sparse}.zst`)) {
    console.error('zstd ...');
    sh(`zstd -q -T0 -k -f ${sparse} -o ${sparse}.zst`);
  }
  if (!existsSync(`${full}.bmap`)) {
    console.error('building a fully mapped 1 GiB image ...');
    const fd = openSync(full, 'w');
    fill(fd, 0, GiB);
    closeSync(fd);
    sh(`bmaptool create -o ${full}.bmap ${full}`);
  }
  return { sparse, full };
}

function dropCaches(): void {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    // not root: the comparison is still alternated, but warm caches favour whoever runs second
  }
}

/**
 * Drops the page cache (the image and the target start cold for every tool), then loads the tools'
 * own code again (node and its modules, python and bmaptool, xz, zstd): a cold program start is not
 * what is compared.
 */
function warmTools(): void {
  spawnSync('node', [CLI, 'flash', '--help']);
  spawnSync('bmaptool', ['--version']);
  for (const t of ['dd', 'xz', 'zstd']) spawnSync(t, ['--version']);
}

function time(cmd: string): number {
  dropCaches();
  warmTools();
  const t0 = performance.now();
  sh(cmd);
  return (performance.now() - t0) / 1000;
}

/** How the figures come about; kept with the table, since the bench rewrites this section. */
const NOTES = [
  '### How hw-test writes, and why',
  '',
  '- Only the mapped ranges are written (the bmap, or SEEK_DATA/SEEK_HOLE for a raw image without one), in',
  '  4 MiB pieces with 4 writes and 4 source reads in flight; an xxh3-64 of each piece is kept for the',
  '  read-back. A raw image with a bmap has its ranges checked against their sha256 before the target is',
  '  opened (4 reads in flight; then written from the page cache, not hashed again); a compressed stream',
  '  has its ranges checked as it is written.',
  '- Block devices are opened with O_DIRECT | O_EXCL. Node cannot allocate aligned memory, but an',
  "  ArrayBuffer's memory never moves: the flasher allocates one slab and finds the offset at which the",
  '  kernel accepts O_DIRECT by probing harmless reads of two pages at 16-byte steps (malloc aligns to 16;',
  '  the loop devices here want 512-byte alignment: `queue/dma_alignment` is 511). A device that refuses',
  '  O_DIRECT is written buffered. Regular files are written buffered.',
  '- A background fdatasync every 64 MiB makes the writeback overlap the rest of the write, instead of the',
  '  whole image landing on the final fsync (a loop device with a buffered backing file, like a USB',
  "  reader's cache, otherwise holds everything until then).",
  '- The verify reads back only what was written, 4 reads in flight, with O_DIRECT, so it reads the device',
  '  and not the page cache.',
  '- Decompression streams, and the zero runs between mapped ranges are skipped, never written. zstd and',
  "  xz are decompressed in this process: zstd through libzstd (zstd-napi), xz through liblzma's",
  '  multithreaded decoder (`rig/flash/native/xzdec.c`, built by `npm run build`; where it is not built,',
  "  `xz -dc -T0` as a child through a pipe). bzip2 goes through `bzip2 -dc`, gz through node's zlib. In",
  '  process because the zero runs are too much for a pipe: this 2 GiB image carries 1.6 GiB of zeros,',
  '  each byte copied into the pipe and out again on the same two cores that decompress (`xz -dc -T0 |',
  '  cat` takes 2.6 s where `xz -dc -T0 > /dev/null` takes 2.0). Through the pipe hw-test flashed the .xz',
  '  image in 2.9 to 3.0 s (1.47 times the decompressor alone), in process in 2.4 to 2.5 s; with `zstd -dc`',
  '  as a child it took 1.1 to 1.6 s for the .zst image, in process 0.6 to 0.7 s.',
  '- The compressed-source target, as the issue words it: hw-test without verify within 10% of the',
  '  decompressor alone (`decompressor > /dev/null`). "the decompressor onto the target" is shown too: the',
  '  decompressor putting the image on the same device by itself and flushing it (`zstd -d --sparse -o',
  '  DEV`, which seeks over every zero block; `xz -dc -T0 > DEV`, which writes every byte).',
  '- Why it is missed on this machine. xz: alone, `xz -dc -T0` keeps both cores busy (3.7 s of CPU in',
  '  2.0 s). hw-test runs the same liblzma decoder with the same two threads and needs CPU of its own on',
  "  the same two cores: the sha256 of the 429 MB of bmap ranges (0.22 s; the bmap's integrity check,",
  '  never skipped), the copies and writes, and 0.09 s of node start-up, about 0.4 s of CPU in all. With',
  '  the sha256 left out (a measurement only) it took 2.13 to 2.22 s against 1.89 to 1.94 for xz: what',
  '  is left is start-up and the writes. zstd: it decompresses this image in 0.2 s, faster than anything',
  '  here puts its 429 MB of data on the device; zstd itself, writing the image onto the target, takes',
  '  0.4 s. hw-test takes 0.67 s: 0.09 s of node start-up, 0.09 s for `zstd -l` (the truncation check',
  '  before anything is written, which reads the compressed file from the cold cache), then 0.5 s of',
  '  writing, with decompression (0.17 s) and the sha256 (0.22 s) in series on the event loop. The raw',
  '  image takes hw-test 0.57 s, so the .zst source costs 0.1 s more than the uncompressed one.',
  '- Before each timed run the page cache is dropped, then the tools themselves (node and its modules,',
  '  python and bmaptool, xz, zstd) are started once, so that a cold program start is not what is compared:',
  '  the image and the target are cold for every tool.',
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Case {
  name: string;
  image: string;
  decompress?: string;
  /** The decompressor writing the image onto the target by itself (DEV stands for the device). */
  onto?: string;
}

let LOAD_AT_START = '';

function main(): void {
  LOAD_AT_START = loadavg()[0].toFixed(1);
  const { sparse, full } = images();
  const root = process.getuid?.() === 0;
  const backing = join(DIR, 'target.img');
  sh(`truncate -s 0 ${backing} && truncate -s ${2 * GiB + 64 * MiB} ${backing}`);
  const dev = root ? execFileSync('losetup', ['-f', '--show', backing]).toString().trim() : backing;
  const detach = () => {
    if (root) spawnSync('losetup', ['-d', dev]);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      detach();
      process.exit(130);
    });
  }
  const cases: Case[] = [
    { name: '2 GiB, 20% mapped, raw + bmap', image: sparse },
    {
      name: 'same, .xz',
      image: `${sparse}.xz`,
      decompress: `xz -dc -T0 ${sparse}.xz`,
      onto: `xz -dc -T0 ${sparse}.xz > DEV && sync DEV`,
    },
    {
      name: 'same, .zst',
      image: `${sparse}.zst`,
      decompress: `zstd -dc -q ${sparse}.zst`,
      onto: `zstd -d -q -f --sparse ${sparse}.zst -o DEV && sync DEV`,
    },
    { name: '1 GiB, fully mapped, raw', image: full },
  ];
  const rows: string[] = [];
  const missed: string[] = [];
  try {
    for (const c of cases) {
      const dd = c.decompress
        ? `${c.decompress} | dd of=${dev} bs=4M iflag=fullblock oflag=direct conv=fsync status=none`
        : `dd if=${c.image} of=${dev} bs=4M oflag=direct conv=fsync status=none`;
      const tools: Record<string, string> = {
        dd,
        bmaptool: `bmaptool -q copy ${c.image} ${dev}`,
        'hw-test verify': `node ${CLI} flash --image ${c.image} --to ${dev} --declare ${dev}`,
        'hw-test no-verify': `node ${CLI} flash --no-verify --image ${c.image} --to ${dev} --declare ${dev}`,
      };
      if (c.decompress && c.onto) {
        tools.decompressor = `${c.decompress} > /dev/null`;
        tools['decompressor onto target'] = c.onto.replaceAll('DEV', dev);
      }
      const t: Record<string, number[]> = {};
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate the order each round, so no tool always runs right after the same one.
        const order = Object.entries(tools);
        for (let i = 0; i < order.length; i++) {
          const [k, cmd] = order[(i + round) % order.length];
          (t[k] ??= []).push(time(cmd));
          console.error(`${c.name}: ${k}: ${t[k].at(-1)!.toFixed(2)} s`);
        }
      }
      const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
      // Ratios are paired within a round (the host's load drifts between rounds), then the median.
      const ratio = (k: string, ref = 'bmaptool') => median(t[k].map((v, i) => v / t[ref][i]));
      const fmt = (k: string) => `${m[k].toFixed(2)} (${ratio(k).toFixed(2)})`;
      const hasDec = t.decompressor !== undefined;
      const vsNull = hasDec ? ratio('hw-test no-verify', 'decompressor') : undefined;
      const vsOnto = hasDec ? ratio('hw-test no-verify', 'decompressor onto target') : undefined;
      rows.push(
        `| ${c.name} | ${m.dd.toFixed(2)} | ${m.bmaptool.toFixed(2)} | ${fmt('hw-test verify')} | ${fmt('hw-test no-verify')} | ` +
          (hasDec
            ? `${m.decompressor.toFixed(2)} (${vsNull!.toFixed(2)}) | ${m['decompressor onto target'].toFixed(2)} (${vsOnto!.toFixed(2)}) |`
            : '  |  |'),
      );
      if (ratio('hw-test no-verify') > 1.0)
        missed.push(`${c.name}: no-verify ratio ${ratio('hw-test no-verify').toFixed(2)} > 1.0`);
      if (ratio('hw-test verify') > 1.5)
        missed.push(`${c.name}: verify ratio ${ratio('hw-test verify').toFixed(2)} > 1.5`);
      if (vsNull !== undefined && vsNull > 1.1) {
        missed.push(`${c.name}: ${vsNull.toFixed(2)}x the decompressor alone (> 1.1)`);
      }
    }
  } finally {
    detach();
    rmSync(backing, { force: true });
  }
  const cpu = cpus()[0]?.model ?? 'unknown';
  const xz = nativeXz();
  const lzma = (v: number) =>
    `${Math.floor(v / 1e7)}.${Math.floor(v / 1e4) % 1000}.${Math.floor(v / 10) % 1000}`;
  const xzWith = xz
    ? `hw-test's xz decoder: liblzma ${lzma(xz.lzmaVersion)} in process, multithreaded`
    : "hw-test's xz decoder: the xz tool through a pipe (the native decoder is not built)";
  const section = [
    '## Flashing',
    '',
    `Run with \`npm run bench:flash\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} CPUs (${cpu}), ` +
      `Linux ${release()}, load average ${LOAD_AT_START} at the start and ${loadavg()[0].toFixed(1)} at the end${Number(LOAD_AT_START) > 0.5 ? ' (other jobs shared the host)' : ''}, target ${root ? 'a loop device backed by a file on the root disk' : 'a regular file'}; ` +
      `page caches dropped before every run${root ? '' : ' (skipped: not root)'}; median of ${ROUNDS} alternated rounds (the order rotates each round), seconds; ${xzWith}.`,
    'Ratios in brackets are against bmaptool in the same round, median over the rounds (target: no-verify',
    '<= 1.0, verify <= 1.5). In the two decompressor columns, the ratio in brackets is hw-test without',
    'verify against that command in the same round (target: <= 1.1 against the decompressor alone,',
    '`> /dev/null`).',
    '',
    '| image | dd bs=4M oflag=direct | bmaptool copy | hw-test verify | hw-test no-verify | decompressor > /dev/null | decompressor onto the target |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    missed.length ? `Targets missed: ${missed.join('; ')}.` : 'All targets met.',
    '',
    ...NOTES,
    '',
  ].join('\n');
  const doc = join(ROOT, 'docs/benchmarks.md');
  const old = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n\n';
  const re = /## Flashing\n[\s\S]*?(?=\n## |$)/;
  const next = re.test(old) ? old.replace(re, section) : `${old.trimEnd()}\n\n${section}`;
  writeFileSync(doc, next);
  console.log(section);
}

main();
