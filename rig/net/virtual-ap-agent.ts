import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from '../catalog/schema.js';
import { InfraError } from '../errors.js';
import { cacheRoot } from '../image/build.js';
import { logger } from '../log.js';
import { realSpawner, type Spawner } from '../util/spawn.js';
import type { Dut } from '../suite-api/contracts.js';

const log = logger('net:virtual-ap');

/** The agent's sources: its builder and the script it runs on the board. */
const SOURCES = path.join(ROOT, 'rig', 'net', 'virtual-ap');

/**
 * Where the agent lives on the board while the suite runs: a tmpfs on the reference OS, so
 * nothing of it (hostapd.conf and its passphrase included) outlives the boot; `agent.sh down`
 * removes it before that. Its last component is the agent tarball's top folder.
 */
export const AGENT_DIR = '/tmp/hw-test-ap';

export interface AgentBundle {
  /** Debian's busybox-static for the board's arch: unpacks and runs the rest. */
  busybox: string;
  /** hw-test-ap/: agent.sh, hostapd, hostapd_cli, iw, their libraries and loader. */
  tarball: string;
}

async function bundleHash(arch: string): Promise<string> {
  const h = createHash('sha256').update(`hw-test-ap\0${arch}\0`);
  for (const f of [
    path.join(SOURCES, 'build.sh'),
    path.join(SOURCES, 'agent.sh'),
    path.join(ROOT, 'os', 'lib', 'debs.sh'),
  ])
    h.update(await readFile(f)).update('\0');
  return h.digest('hex').slice(0, 16);
}

/**
 * The agent for `arch`, built once from Debian packages (rig/net/virtual-ap/build.sh) and cached
 * by the hash of its sources, like the reference images.
 */
export async function ensureApAgent(
  arch: string,
  opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; spawner?: Spawner } = {},
): Promise<AgentBundle> {
  if (arch !== 'x86_64' && arch !== 'armv7')
    throw new InfraError(`no virtual access point agent for ${arch} boards (x86_64 and armv7 only)`);
  const dir = path.join(cacheRoot(opts.env), 'agents', `wifi-ap-${arch}-${await bundleHash(arch)}`);
  const bundle = { busybox: path.join(dir, 'busybox'), tarball: path.join(dir, 'agent.tgz') };
  if (existsSync(path.join(dir, 'done'))) return bundle;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const res = await (opts.spawner ?? realSpawner).run(
    'bash',
    [path.join(SOURCES, 'build.sh'), '--arch', arch, '--out', tmp],
    { signal: opts.signal, env: opts.env ? { ...process.env, ...opts.env } : undefined },
  );
  if (res.code !== 0) {
    await rm(tmp, { recursive: true, force: true });
    const tail = (res.stderr || res.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new InfraError(
      `building the ${arch} virtual access point agent failed (exit ${res.code}): ${tail}`,
    );
  }
  await writeFile(path.join(tmp, 'done'), `${new Date().toISOString()}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  log('built %s', dir);
  return bundle;
}

/**
 * Copies the agent onto the board and unpacks it with its own busybox: the board lends only a
 * shell, `cat`/sftp for the copy and `chmod`. The folder is private (0700): hostapd.conf goes in it.
 */
export async function installAgent(
  dut: Dut,
  bundle: AgentBundle,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const sh = async (cmd: string) => {
    const r = await dut.exec(cmd, opts);
    if (r.code !== 0)
      throw new InfraError(
        `virtual access point: \`${cmd}\` on the board (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`,
      );
  };
  const parent = path.posix.dirname(AGENT_DIR);
  await sh(`rm -rf ${AGENT_DIR} && mkdir -m 700 ${AGENT_DIR}`);
  await dut.put(bundle.busybox, `${AGENT_DIR}/busybox`, { signal: opts.signal });
  await dut.put(bundle.tarball, `${AGENT_DIR}/agent.tgz`, { signal: opts.signal });
  await sh(
    `chmod 755 ${AGENT_DIR}/busybox && ${AGENT_DIR}/busybox tar -xzf ${AGENT_DIR}/agent.tgz -C ${parent} && rm -f ${AGENT_DIR}/agent.tgz && chmod 700 ${AGENT_DIR}`,
  );
}
