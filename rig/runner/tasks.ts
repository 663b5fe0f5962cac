import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConsoleBootSession } from '../board/boot-session.js';
import type { BoardInstance } from '../board/board.js';
import { failurePatterns } from '../catalog/board.js';
import { announcedHostname, sshLogin } from '../catalog/os-expect.js';
import { InfraError, InterruptedError } from '../errors.js';
import { cacheRoot } from '../image/build.js';
import type { TestResult } from '../report/model.js';
import type { AccessPoint } from '../net/wifi-ap.js';
import type { WifiNetwork } from '../suite-api/contracts.js';
import { defaultImageSource, optionSource, type ArtifactSource } from './artifacts.js';
import { openBoard } from './board-factory.js';
import type { RunBase, RunNetwork } from './context.js';
import { flashToStorage, runFlasherStage } from './flash-step.js';
import { boardHealth, healthPath } from './health.js';
import { lockBoard, type BoardLock } from './lock.js';
import { prepareImage, type PreparedImage } from './prepare.js';
import { withInfraRetries } from './retry.js';
import { runSuites } from './suites.js';
import { openAccessPoint, planWifi, type WifiPlan } from './wifi-ap.js';
import type { Task } from './task-runner.js';

/**
 * The tasks of one board's run, in order (rig/runner/run-board.ts lists them). Each says what it
 * needs from the tasks before it in its input type, and what it adds in its output.
 */

/** Checked before the lock: a quarantined board is not waited for. */
export const quarantineCheck: Task<RunBase, object> = {
  async setup({ board, opts, facts }) {
    const health = await boardHealth(healthPath(opts.env), board.name);
    if (health.quarantined && !opts.healthCheck) {
      facts.quarantined = true;
      throw new InfraError(
        `${board.name} is quarantined since ${health.since ?? '?'} (${health.reason ?? 'infra failures'}): run hw-test health-check --board ${board.name} once the rig is fixed`,
        { board: board.name },
      );
    }
    return {};
  },
};

export const reserve: Task<RunBase, { lock: BoardLock }> = {
  step: 'reserve',
  async setup({ board, opts, events }) {
    const lock = await lockBoard(board.name, {
      timeoutMs: opts.lockTimeoutMs,
      signal: opts.signal,
      env: opts.env,
      onWait: (holder) => events.lockWait(board.name, holder, opts.lockTimeoutMs),
      onTakeOver: (previous) => events.lockTakeOver(board.name, previous),
    });
    return { lock };
  },
  teardown: ({ lock }) => ({ step: 'unlock', run: () => lock.release() }),
};

/** Registered before prepare, so that a prepare that fails half way leaves no work folder. */
export const workCopy: Task<RunBase, object> = {
  setup: () => Promise.resolve({}),
  teardown: ({ opts, runDir }) => ({
    step: 'remove the work copy',
    run: () =>
      rm(path.join(cacheRoot(opts.env), 'work', path.basename(runDir)), { recursive: true, force: true }),
  }),
};

/**
 * The run's WiFi is decided before prepare: its credentials are configured into the image, and a
 * board with no access point to join is refused before anything is flashed.
 */
export const accessPointPlan: Task<RunBase, { wifiPlan: WifiPlan | undefined }> = {
  setup({ board, opts, needs }) {
    return Promise.resolve({ wifiPlan: planWifi({ board, wanted: needs.accessPoint, env: opts.env }) });
  },
};

export const prepare: Task<RunBase & { wifiPlan: WifiPlan | undefined }, { image: PreparedImage }> = {
  step: 'prepare',
  async setup({ board, opts, needs, runDir, events, facts, wifiPlan }) {
    // The user's files first: a reference bundle only stands in for one the user did not name.
    const sources: ArtifactSource[] = [optionSource(opts.artifactFiles ?? {}, opts.env)];
    const reference = defaultImageSource(board.type, opts.os, opts.env);
    if (reference) sources.push(reference);
    const image = await prepareImage({
      wifi: wifiPlan?.credentials,
      board: board.type,
      os: opts.os,
      image: opts.image,
      imageSha256: opts.imageSha256,
      runDir,
      signal: opts.signal,
      env: opts.env,
      onLog: (line) => events.imageLog(board.name, line),
      progress: opts.progress?.(`${board.name} image`),
      artifacts: needs.artifacts,
      artifactSources: sources,
    });
    facts.image = image;
    return { image };
  },
};

/** A virtual board's network in a namespace, or a real board's lab interface. */
export const network: Task<RunBase & { image: PreparedImage }, { network: RunNetwork | undefined }> = {
  step: 'network',
  skip: ({ board, needs }) =>
    needs.network && (board.type.virtual || board.wiring?.instance.network)
      ? undefined
      : { network: undefined },
  async setup({ board, opts, runDir, image }) {
    if (board.type.virtual) {
      const { createVirtualNetwork } = await import('../net/virtual-network.js');
      const net = await createVirtualNetwork({
        board: board.name,
        nicModel: board.type.qemu?.nicModel ?? 'virtio-net-pci',
        sshKey: image.sshKey,
        ssh: sshLogin(opts.os),
        signal: opts.signal,
      });
      return { network: net };
    }
    const { startLabNetwork } = await import('./lab-net.js');
    const inst = board.wiring?.instance;
    const net = inst
      ? await startLabNetwork({
          board: board.name,
          inst,
          // The name the board announces: this run's, or the one the profile says it keeps.
          hostname: announcedHostname(opts.os, image.hostname),
          sshKey: image.sshKey,
          os: opts.os,
          runDir,
          signal: opts.signal,
        })
      : undefined;
    return { network: net };
  },
  teardown: ({ network }) => network && { step: 'network down', run: () => network.teardown() },
};

export const open: Task<RunBase & { network: RunNetwork | undefined }, { instance: BoardInstance }> = {
  async setup({ board, opts, network, facts }) {
    const instance = await openBoard(board, {
      os: opts.os,
      netArgs: network?.qemuNetArgs,
      wrapper: network?.wrapper,
      env: opts.env,
    });
    facts.instance = instance;
    return { instance };
  },
  teardown: ({ instance }) => ({ step: 'power off and release', run: () => instance.release() }),
};

type ApIn = RunBase & { wifiPlan: WifiPlan | undefined; network: RunNetwork | undefined };

/**
 * The access point, after the board is opened: its teardown then runs before the board's power
 * off (a virtual board's AP runs on the board). hostapd on a rig interface and a lab's AP are up
 * before the board boots; a virtual board's comes up when the suite asks (`ready`), over SSH.
 */
export const accessPoint: Task<ApIn, { wifi: AccessPoint | undefined }> = {
  step: 'wifi access point',
  skip: ({ wifiPlan }) => (wifiPlan ? undefined : { wifi: undefined }),
  async setup({ board, opts, runDir, wifiPlan, network }) {
    if (!wifiPlan) return { wifi: undefined };
    const wifi = await openAccessPoint({
      plan: wifiPlan,
      board,
      network,
      runDir,
      env: opts.env,
      signal: opts.signal,
      apPassphrase: opts.wifiApPassphrase,
    });
    return { wifi };
  },
  teardown: ({ wifi }) => wifi && { step: 'wifi access point down', run: () => wifi.stop() },
};

export const flash: Task<RunBase & { instance: BoardInstance; image: PreparedImage }, object> = {
  step: 'flash',
  async setup({ board, opts, events, facts, instance, image }) {
    const retries = opts.retries ?? 1;
    facts.flash = await withInfraRetries(
      retries,
      async () => {
        await mkdir(path.dirname(instance.storage), { recursive: true });
        return flashToStorage(instance, image.path, {
          signal: opts.signal,
          progress: opts.progress?.(`${board.name} flash`),
        });
      },
      (n, why) => events.retry(board.name, 'flash', n, retries, why),
    );
    return {};
  },
};

/** A flasher board: the card now holds the flasher, which writes internal storage. */
export const flasherStage: Task<
  RunBase & { instance: BoardInstance },
  { consoleProven: string | undefined }
> = {
  step: 'flasher',
  skip: ({ board }) => (board.type.boot.medium === 'flasher' ? undefined : { consoleProven: undefined }),
  async setup({ board, opts, events, instance }) {
    const stage = await runFlasherStage(instance, board.type, opts.signal);
    events.flasherDone(board.name, stage, board.type.markers.flasherDone);
    return { consoleProven: stage.doneBy === 'console' ? 'during the flasher stage' : undefined };
  },
};

type BootIn = RunBase & { instance: BoardInstance; consoleProven: string | undefined };

export const bootSession: Task<BootIn, { boot: ConsoleBootSession }> = {
  setup({ board, opts, events, facts, instance, consoleProven }) {
    const retries = opts.retries ?? 1;
    const boot = new ConsoleBootSession({
      consoleProven,
      type: board.type,
      os: opts.os,
      console: instance.console,
      power: instance.power,
      failurePatterns: failurePatterns(board.type),
      retries,
      onRetry: (n, why) => events.retry(board.name, 'boot', n, retries, why),
    });
    facts.boot = boot;
    return Promise.resolve({ boot });
  },
};

type SuitesIn = RunBase & {
  instance: BoardInstance;
  image: PreparedImage;
  boot: ConsoleBootSession;
  network: RunNetwork | undefined;
  wifi: WifiNetwork | undefined;
};

export const suites: Task<SuitesIn, { tests: TestResult[] }> = {
  step: 'suites',
  async setup(ctx) {
    const { board, opts, events, facts, instance, image } = ctx;
    const tests = await runSuites({
      suites: ctx.suites,
      grep: opts.grep,
      allureResultsDir: path.join(ctx.runDir, 'allure-results'),
      context: {
        boardName: board.name,
        type: board.type,
        os: opts.os,
        console: instance.console,
        power: instance.power,
        boot: ctx.boot,
        network: ctx.network,
        wifi: ctx.wifi,
        hostname: image.hostname,
        artifacts: image.artifacts,
        signal: opts.signal,
        options: opts.suiteOptions,
      },
      now: () => instance.console.now(),
      excerpt: (from, to) => consoleExcerpt(instance, from, to),
      environment: {
        board: board.name,
        boardType: board.type.name,
        image: image.source,
        'image.sha256': image.sha256,
        host: os.hostname(),
        reproduce: opts.reproduce,
      },
      signal: opts.signal,
      onWriteError: (err) => events.reportProblem(board.name, 'allure-results', err),
      onResult: (r) => events.testEnd(board.name, r),
    });
    facts.tests = tests;
    return { tests };
  },
};

/** An interrupted run ends interrupted, whatever the suites made of the abort. */
export const notInterrupted: Task<RunBase, object> = {
  setup({ opts }) {
    if (opts.signal.aborted) throw new InterruptedError();
    return Promise.resolve({});
  },
};

function consoleExcerpt(inst: BoardInstance, fromMs: number, toMs: number): string {
  const c = inst.console;
  const lines = c.linesBetween
    ? c.linesBetween(fromMs, toMs)
    : c.lines.filter((l) => l.t >= fromMs && l.t <= toMs);
  return lines.map((l) => `[${(l.t / 1000).toFixed(3)}] ${l.text}`).join('\n');
}
