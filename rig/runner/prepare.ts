import { existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BoardType } from '../catalog/board.js';
import { REFERENCE_OS, type OsProfile } from '../catalog/os-profile.js';
import { InputError } from '../errors.js';
import { cacheRoot, ensureImage } from '../image/build.js';
import { generateRunKey, loadPrivateKey, type SshKey } from '../net/ssh-key.js';
import { registerSecret } from '../log.js';
import type { RunEvents } from './run-board.js';
import type { ProgressSink } from './flash-step.js';
import type { WifiCredentials } from '../net/hostapd.js';

export interface PreparedImage {
  /** What the user asked for (or the reference image the board boots by default). */
  source: string;
  sha256: string;
  sizeBytes: number;
  version?: string;
  /** The configured copy that is flashed: the user's image is never written to. */
  path: string;
  hostname: string;
  sshKey: SshKey;
  /** Update bundles and other files suites use, by name (`update:v2` ...). */
  artifacts: Map<string, string>;
}

export interface PrepareOptions {
  board: BoardType;
  os: OsProfile;
  image?: string;
  runDir: string;
  suites?: string[];
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  events: RunEvents;
  progress?: ProgressSink;
  /** The rig's access point for this run: its credentials go into the image. */
  wifi?: WifiCredentials;
  /** Files the user gave for the suites, by option (`update-bundle` -> path or URL). */
  userArtifacts?: Record<string, string>;
}

const BUNDLES = ['v2', 'health-fails', 'unbootable-update'];

/** The reference image's variant from its cache folder (`<arch>-<variant>-<hash>`). */
function referenceVersion(file: string): string | undefined {
  const m = /^(?:x86_64|armv7)-(.+)-[0-9a-f]{16}$/.exec(path.basename(path.dirname(file)));
  return m?.[1];
}

/**
 * Prepare: find or build the image, copy it (sparse) to the board's work folder, and configure
 * the copy for this run: a hostname of its own and a fresh SSH key, written into the boot
 * partition without mounting it.
 */
export async function prepareImage(o: PrepareOptions): Promise<PreparedImage> {
  const artifacts = new Map<string, string>();
  let source = o.image;
  if (!source) {
    if (!o.board.defaultImage) {
      throw new InputError(
        `--image is required for ${o.board.name}: it is real hardware with no default image`,
        { board: o.board.name },
      );
    }
    const built = await ensureImage(o.board.defaultImage.arch, o.board.defaultImage.variant, {
      signal: o.signal,
      env: o.env,
      onLog: (l) => o.events.info(l),
    });
    source = built.image;
  } else if (!/^https?:\/\//.test(source) && !existsSync(source)) {
    throw new InputError(`--image ${source}: no such file`, { file: source });
  }
  await userArtifacts(o, artifacts);
  await referenceBundles(o, artifacts);
  updateInputsCheck(o, artifacts);
  const { sourceToRaw } = await import('./flash-step.js');
  const work = path.join(cacheRoot(o.env), 'work', path.basename(o.runDir));
  await mkdir(work, { recursive: true });
  const raw = await sourceToRaw(source, path.join(work, 'image.img'), {
    signal: o.signal,
    progress: o.progress,
  });
  const hostname = `hwt-${Math.random().toString(16).slice(2, 8)}`;
  // Jenkins binds the lab's key and WiFi passphrase from its credentials store; never from the repo.
  const sshKey = o.env.HW_TEST_SSH_KEY
    ? loadPrivateKey(o.env.HW_TEST_SSH_KEY)
    : generateRunKey(`hw-test ${o.board.name}`);
  registerSecret(o.env.HW_TEST_WIFI_PSK);
  if (o.os.configure && o.os.configure.method !== 'none') {
    const { configureImage } = await import('../image/configure.js');
    await configureImage(
      raw.path,
      { hostname, sshKey: sshKey.publicKey, wifiSsid: o.wifi?.ssid, wifiPsk: o.wifi?.passphrase },
      o.os,
    );
  }
  return {
    source,
    sha256: raw.sha256,
    sizeBytes: (await stat(raw.path)).size,
    version: referenceVersion(source),
    path: raw.path,
    hostname,
    sshKey,
    artifacts,
  };
}

/**
 * The reference OS's own bundles, for the reference OS only: another OS's update system would
 * refuse them (a RAUC image gets its bundle from --update-bundle).
 */
async function referenceBundles(o: PrepareOptions, artifacts: Map<string, string>): Promise<void> {
  if (!o.board.defaultImage || o.os.file !== REFERENCE_OS || !o.suites?.includes('update-rollback')) return;
  for (const v of BUNDLES) {
    if (v === 'v2' && artifacts.has('update-bundle')) continue;
    const b = await ensureImage(o.board.defaultImage.arch, v, { signal: o.signal, env: o.env });
    if (b.bundle) artifacts.set(`update:${v}`, b.bundle);
  }
}

/** The user's files for the suites, fetched and checked before anything is flashed. */
async function userArtifacts(o: PrepareOptions, artifacts: Map<string, string>): Promise<void> {
  const { USER_ARTIFACTS, resolveUserArtifact } = await import('./user-artifacts.js');
  for (const a of USER_ARTIFACTS) {
    const source = o.userArtifacts?.[a.option];
    if (!source) continue;
    if (!o.suites?.includes(a.suite)) {
      o.events.warn(`--${a.option} is for the ${a.suite} suite, which this run does not run: ignored`);
      continue;
    }
    artifacts.set(a.artifact, await resolveUserArtifact(a.option, source, { signal: o.signal }));
  }
}

/**
 * The update-rollback suite cannot test an update without the image's bundle: a lacking bundle is
 * bad input before anything is flashed, when the board and the OS profile could update at all
 * (else the suite skips, saying why).
 */
function updateInputsCheck(o: PrepareOptions, artifacts: ReadonlyMap<string, string>): void {
  if (!o.suites?.includes('update-rollback') || !o.board.capabilities.includes('update')) return;
  const c = o.os.commands;
  if (!(c.booted ?? c.activeSlot) || !c.update) return;
  if (artifacts.has('update-bundle') || artifacts.has('update:v2')) return;
  throw new InputError(
    `--suite update-rollback needs the update bundle of the image under test: give --update-bundle FILE|URL (OS profile ${o.os.file})`,
    { board: o.board.name, field: 'update-bundle' },
  );
}

/** Removes a run's work copy. */
export async function cleanWork(file: string): Promise<void> {
  await rm(path.dirname(file), { recursive: true, force: true });
}
