import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BoardType } from '../catalog/board.js';
import type { OsProfile } from '../catalog/os-profile.js';
import { configurableItems } from '../catalog/os-expect.js';
import { InputError } from '../errors.js';
import { downloadDir } from '../flash/download.js';
import { cacheRoot, ensureImage } from '../image/build.js';
import { generateRunKey, loadPrivateKey, type SshKey } from '../net/ssh-key.js';
import { registerSecret } from '../log.js';
import { resolveArtifacts, type ArtifactSource } from './artifacts.js';
import type { SuiteArtifact } from '../suite-api/manifest.js';
import type { ProgressSink } from './flash-step.js';
import type { WifiCredentials } from '../net/hostapd.js';

export interface PreparedImage {
  /** What the user asked for (or the reference image the board boots by default). */
  source: string;
  sha256: string;
  /** An image URL: the bytes came from the download cache (revalidated with the server). */
  fromCache?: boolean;
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
  /** The image's expected sha256 (`--image-sha256`): an image that differs is refused before use. */
  imageSha256?: string;
  runDir: string;
  /** What the run's suites need prepared (their manifests' artifacts), and where it may come from. */
  artifacts?: readonly SuiteArtifact[];
  artifactSources?: readonly ArtifactSource[];
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  /** Lines from building the default image. */
  onLog?: (line: string) => void;
  progress?: ProgressSink;
  /** The rig's access point for this run: its credentials go into the image. */
  wifi?: WifiCredentials;
}

/** The reference image's variant from its cache folder (`<arch>-<variant>-<hash>`). */
function referenceVersion(file: string): string | undefined {
  const m = /^(?:x86_64|armv7)-(.+)-[0-9a-f]{16}$/.exec(path.basename(path.dirname(file)));
  return m?.[1];
}

/**
 * Prepare: find or build the image, copy it (sparse) to the board's work folder, and configure
 * the copy for this run: a hostname of its own and a fresh SSH key, written where the OS
 * profile's configure block says (only what its method can take), without mounting it.
 */
export async function prepareImage(o: PrepareOptions): Promise<PreparedImage> {
  const source = await imageSource(o);
  const artifacts = await resolveArtifacts(o.artifacts ?? [], o.artifactSources ?? [], { signal: o.signal });
  const { sourceToRaw } = await import('./flash-step.js');
  const work = path.join(cacheRoot(o.env), 'work', path.basename(o.runDir));
  await mkdir(work, { recursive: true });
  const raw = await sourceToRaw(source, path.join(work, 'image.img'), {
    signal: o.signal,
    progress: o.progress,
    imageSha256: o.imageSha256,
    cacheDir: downloadDir(o.env),
  });
  const hostname = `hwt-${Math.random().toString(16).slice(2, 8)}`;
  // Jenkins binds the lab's key and WiFi passphrase from its credentials store; never from the repo.
  // An image that cannot be provisioned trusts a key of its own: the profile may name it (ssh.key).
  const keyFile = o.env.HW_TEST_SSH_KEY || o.os.ssh.key;
  const sshKey = keyFile ? loadPrivateKey(keyFile) : generateRunKey(`hw-test ${o.board.name}`);
  registerSecret(o.env.HW_TEST_WIFI_PSK);
  if (o.os.configure && o.os.configure.method !== 'none') {
    const { configureImage } = await import('../image/configure.js');
    // Only what the profile's method can take: the suites expect the rest from the profile.
    const can = configurableItems(o.os);
    await configureImage(
      raw.path,
      {
        hostname: can.has('hostname') ? hostname : undefined,
        sshKey: can.has('authorizedKeys') ? sshKey.publicKey : undefined,
        wifiSsid: o.wifi?.ssid,
        wifiPsk: o.wifi?.passphrase,
      },
      o.os,
    );
  }
  return {
    source,
    sha256: raw.sha256,
    fromCache: raw.fromCache,
    sizeBytes: (await stat(raw.path)).size,
    version: referenceVersion(source),
    path: raw.path,
    hostname,
    sshKey,
    artifacts,
  };
}

/** The user's image, or the board's default image (built or found in the cache). */
async function imageSource(o: PrepareOptions): Promise<string> {
  if (o.image) {
    if (!/^https?:\/\//.test(o.image) && !existsSync(o.image))
      throw new InputError(`--image ${o.image}: no such file`, { file: o.image });
    return o.image;
  }
  if (!o.board.defaultImage) {
    throw new InputError(
      `--image is required for ${o.board.name}: it is real hardware with no default image`,
      {
        board: o.board.name,
      },
    );
  }
  const built = await ensureImage(o.board.defaultImage.arch, o.board.defaultImage.variant, {
    signal: o.signal,
    env: o.env,
    onLog: o.onLog,
  });
  return built.image;
}
