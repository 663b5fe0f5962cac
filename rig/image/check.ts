import { configurableItems, hostnameExpectation } from '../catalog/os-expect.js';
import type { OsProfile } from '../catalog/os-profile.js';
import { errorMessage } from '../errors.js';
import { generateRunKey } from '../net/ssh-key.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import { methodFor, openConfigPartition, type ImageConfig, type PlannedWrite } from './configure.js';
import { readPartitionTable, type FoundPartition } from './partitions.js';

/** One finding of `hw-test image check`: a problem stops a run before a board is spent on it. */
export interface ImageCheck {
  ok: boolean;
  what: string;
  text: string;
}

const PATTERNS: [string, (os: OsProfile) => string | undefined][] = [
  ['console.loginPrompt', (os) => os.console.loginPrompt],
  ['console.passwordPrompt', (os) => os.console.passwordPrompt],
  ['console.shellPrompt', (os) => os.console.shellPrompt],
  ['console.loginFailed', (os) => os.console.loginFailed],
  ['markers.bootloader', (os) => os.markers?.bootloader],
  ['markers.kernel', (os) => os.markers?.kernel],
  ['markers.userspace', (os) => os.markers?.userspace],
];

/** Each prompt and marker compiles, and none matches an empty line (it would match before the OS spoke). */
export function checkPatterns(os: OsProfile): ImageCheck[] {
  const out: ImageCheck[] = [];
  for (const [field, get] of PATTERNS) {
    const p = get(os);
    if (p === undefined) continue;
    let re: RegExp;
    try {
      re = new RegExp(p, 'm');
    } catch (err) {
      out.push({
        ok: false,
        what: 'prompts',
        text: `${field} /${p}/ is not a valid regular expression: ${errorMessage(err)}`,
      });
      continue;
    }
    if (re.test(''))
      out.push({
        ok: false,
        what: 'prompts',
        text: `${field} /${p}/ matches an empty line: it would match before the OS printed anything`,
      });
  }
  if (!out.length)
    out.push({ ok: true, what: 'prompts', text: 'every prompt and marker is a valid regular expression' });
  return out;
}

/** A run's settings, as prepare would pass them (what the method can take), for a dry plan of its writes. */
function sampleConfig(os: OsProfile): ImageConfig {
  const can = configurableItems(os);
  return {
    ...(can.has('hostname') ? { hostname: 'hwt-check0' } : {}),
    ...(can.has('authorizedKeys') ? { sshKey: generateRunKey('hw-test image check').publicKey } : {}),
    ...(can.has('wifi') ? { wifiSsid: 'hwt-check-ssid', wifiPsk: 'hwt-check-passphrase' } : {}),
  };
}

/** Bytes a write takes on the partition: its content rounded up to 4 KiB, plus a block per folder. */
function needed(writes: PlannedWrite[]): number {
  const block = 4096;
  return writes.reduce(
    (n, w) => n + Math.ceil(Math.max(1, Buffer.byteLength(w.content)) / block) * block + block,
    0,
  );
}

async function fatFree(image: string, part: FoundPartition, spawner: Spawner): Promise<number | undefined> {
  const r = await spawner.run('mdir', ['-i', `${image}@@${part.offset}`, '::/'], {
    env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
    timeoutMs: 30_000,
  });
  const m = /([\d ]+) bytes free/.exec(r.stdout);
  return m ? Number(m[1].replace(/ /g, '')) : undefined;
}

const mib = (n: number) => (n < 1048576 ? `${Math.ceil(n / 1024)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

async function checkWrites(image: string, os: OsProfile, spawner: Spawner): Promise<ImageCheck[]> {
  const m = await methodFor(os);
  const { part, files } = await openConfigPartition(image, os, m, spawner);
  const label = [part.name && `"${part.name}"`, part.label && `fs label "${part.label}"`]
    .filter(Boolean)
    .join(', ');
  const out: ImageCheck[] = [
    {
      ok: true,
      what: 'partition',
      text: `configure.partition ${JSON.stringify(os.configure?.partition ?? 1)} is partition ${part.number} of the ${part.scheme.toUpperCase()} table${label ? ` (${label})` : ''}: ${part.fs}, as ${os.configure!.method} needs`,
    },
  ];
  const writes = await m.plan(sampleConfig(os), { os, files, part, spawner, image });
  const free = part.freeBytes ?? (part.fs === 'vfat' ? await fatFree(image, part, spawner) : undefined);
  const need = needed(writes);
  const list = writes.map((w) => w.path).join(', ');
  if (free !== undefined && free < need)
    out.push({
      ok: false,
      what: 'space',
      text: `partition ${part.number} has ${mib(free)} free, and ${list} need about ${mib(need)}`,
    });
  else
    out.push({
      ok: true,
      what: 'files',
      text: `${list} can be written (${free === undefined ? 'free space unknown' : `${mib(free)} free`})`,
    });
  return out;
}

/**
 * Checks an OS profile against an image before a board is spent on it: the prompts compile, the
 * partition `configure` names exists with the filesystem its method writes, every file a run
 * writes can be planned (owners found, a JSON file parses) and fits. Nothing is written.
 */
export async function checkImage(
  image: string,
  os: OsProfile,
  opts: { spawner?: Spawner } = {},
): Promise<ImageCheck[]> {
  const spawner = opts.spawner ?? realSpawner;
  const out = checkPatterns(os);
  try {
    const table = readPartitionTable(image);
    out.push({
      ok: true,
      what: 'table',
      text: `${table.scheme.toUpperCase()} with partitions ${table.partitions.map((p) => p.number).join(', ')}`,
    });
  } catch (err) {
    return [...out, { ok: false, what: 'table', text: errorMessage(err) }];
  }
  if (!os.configure || os.configure.method === 'none') {
    out.push({ ok: true, what: 'configure', text: 'configure.method none: the image is flashed as it is' });
  } else {
    try {
      out.push(...(await checkWrites(image, os, spawner)));
    } catch (err) {
      out.push({ ok: false, what: 'configure', text: errorMessage(err) });
    }
  }
  const h = hostnameExpectation(os, "each run's own (hwt-xxxxxx)");
  out.push(
    h.kind === 'unknown'
      ? { ok: true, what: 'hostname', text: `none expected: ${h.reason} (the hostname checks will skip)` }
      : {
          ok: true,
          what: 'hostname',
          text: `${h.kind === 'known' ? h.name : `\`${h.command}\``}: ${h.source}`,
        },
  );
  return out;
}
