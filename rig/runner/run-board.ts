import { mkdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { failurePatterns } from '../catalog/board.js';
import { cacheRoot } from '../image/build.js';
import type { OsProfile } from '../catalog/os-profile.js';
import { ConsoleBootSession } from '../board/boot-session.js';
import type { BoardInstance } from '../board/board.js';
import {
  InfraError,
  InterruptedError,
  classOf,
  countsAgainstBoard,
  errorMessage,
  exitCodeFor,
  verdictOf,
  worst,
  type Verdict,
} from '../errors.js';
import { logger } from '../log.js';
import type { RunSummary, StageTiming, StepRecord, TestResult } from '../report/model.js';
import { createRunDir, newRunId, writeRunReports } from '../report/summary.js';
import { lockBoard, describeHolder } from './lock.js';
import { openBoard, type ResolvedBoard } from './board-factory.js';
import { prepareImage, type PreparedImage } from './prepare.js';
import { Steps } from './steps.js';
import { labInstance, startAccessPoint, startLabNetwork } from './lab-net.js';
import { generateWifiCredentials } from '../net/hostapd.js';
import { flashToStorage, runFlasherStage, type ProgressSink } from './flash-step.js';
import { boardHealth, clearQuarantine, healthPath, recordVerdict } from './health.js';
import { runSuites, suiteFiles } from './suites.js';
import type { BoardNetwork } from '../../suites/fixture.js';

const log = logger('run');

export interface RunEvents {
  info(line: string): void;
  warn(line: string): void;
}

export interface BoardRunOptions {
  board: ResolvedBoard;
  os: OsProfile;
  image?: string;
  suites: string[];
  grep?: string;
  reportsDir: string;
  lockTimeoutMs: number;
  suiteOptions: Record<string, string>;
  signal: AbortSignal;
  events: RunEvents;
  interactive: boolean;
  env: NodeJS.ProcessEnv;
  /** The command line that reproduces this run, for the report. */
  reproduce: string;
  /** Draws flash progress (a bar on a TTY, plain lines in CI). */
  progress?: (label: string) => ProgressSink;
  /** Infra retries: flash attempts and power cycles after a silent boot (never after a fail). */
  retries?: number;
  /** Consecutive infra results that quarantine the board (default 3). */
  quarantineAfter?: number;
  /** A health check runs a quarantined board, and lifts the quarantine when it passes. */
  healthCheck?: boolean;
}

/** Suites that need the board on a network the rig can reach. */
const NETWORK_SUITES = new Set(['network', 'wifi', 'update-rollback']);

/**
 * One board, one run: reserve, prepare, flash, boot and suites, report, release. Teardowns run in
 * reverse order whatever happens, and the report is written even when the run is interrupted.
 */
export async function runBoard(opts: BoardRunOptions): Promise<RunSummary> {
  const { board, events } = opts;
  const started = new Date();
  const runId = newRunId(started);
  const runDir = await createRunDir(opts.reportsDir, board.name, runId);
  const steps = new Steps({
    onStart: (name) => events.info(`${board.name}: ${name}...`),
    onEnd: (r) =>
      events.info(
        `${board.name}: ${r.name} ${r.verdict === 'pass' ? 'done' : r.verdict} in ${(r.durationMs / 1000).toFixed(1)} s${r.message ? `: ${r.message}` : ''}`,
      ),
  });
  const files = suiteFiles(opts.suites);
  let tests: TestResult[] = [];
  let runError: unknown;
  let image: PreparedImage | undefined;
  let instance: BoardInstance | undefined;
  let boot: ConsoleBootSession | undefined;
  let flash: RunSummary['flash'];
  let quarantined = false;

  try {
    // Checked before the lock: a quarantined board is not waited for.
    const health = await boardHealth(healthPath(opts.env), board.name);
    if (health.quarantined && !opts.healthCheck) {
      quarantined = true;
      throw new InfraError(
        `${board.name} is quarantined since ${health.since ?? '?'} (${health.reason ?? 'infra failures'}): run hw-test health-check --board ${board.name} once the rig is fixed`,
        { board: board.name },
      );
    }
    const lock = await steps.run('reserve', () =>
      lockBoard(board.name, {
        timeoutMs: opts.lockTimeoutMs,
        signal: opts.signal,
        env: opts.env,
        onWait: (h) =>
          events.warn(
            `${board.name} is in use by ${h ? describeHolder(h) : 'another run'}; waiting up to ${opts.lockTimeoutMs / 1000} s`,
          ),
        onTakeOver: (d) =>
          events.warn(
            `${board.name}: the previous holder (${describeHolder(d)}) is gone; taking over its lock`,
          ),
      }),
    );
    steps.defer('unlock', () => lock.release());
    // Registered before prepare, so that a prepare that fails half way leaves no work folder.
    steps.defer('remove the work copy', () =>
      rm(path.join(cacheRoot(opts.env), 'work', path.basename(runDir)), { recursive: true, force: true }),
    );

    const labInst = await labInstance(board);
    const wantsWifi =
      opts.suites.includes('wifi') && board.type.capabilities.includes('wifi') && labInst?.wifi !== undefined;
    const wifiCredentials = wantsWifi ? generateWifiCredentials(board.name) : undefined;

    image = await steps.run('prepare', () =>
      prepareImage({
        wifi: wifiCredentials,
        board: board.type,
        os: opts.os,
        image: opts.image,
        runDir,
        signal: opts.signal,
        env: opts.env,
        events,
        progress: opts.progress?.(`${board.name} image`),
        suites: opts.suites,
      }),
    );

    let network:
      (BoardNetwork & { qemuNetArgs?: string[]; wrapper?: string[]; teardown(): Promise<void> }) | undefined;
    if (board.type.virtual && opts.suites.some((s) => NETWORK_SUITES.has(s))) {
      network = await steps.run('network', async () => {
        const { createVirtualNetwork } = await import('../net/virtual-network.js');
        return createVirtualNetwork({
          board: board.name,
          nicModel: board.type.qemu?.nicModel ?? 'virtio-net-pci',
          sshKey: image!.sshKey,
          signal: opts.signal,
        });
      });
      steps.defer('network down', () => network!.teardown());
    } else if (labInst?.network && opts.suites.some((s) => NETWORK_SUITES.has(s))) {
      network = await steps.run('network', () =>
        startLabNetwork({
          board: board.name,
          inst: labInst,
          hostname: image!.hostname,
          sshKey: image!.sshKey,
          os: opts.os,
          runDir,
          signal: opts.signal,
        }),
      );
      if (network) steps.defer('network down', () => network!.teardown());
    }
    let wifi: Awaited<ReturnType<typeof startAccessPoint>>['context'] | undefined;
    if (wifiCredentials && labInst?.wifi) {
      const ap = await steps.run('wifi access point', () =>
        startAccessPoint({
          board: board.name,
          apInterface: labInst.wifi!.apInterface,
          credentials: wifiCredentials,
          runDir,
          signal: opts.signal,
        }),
      );
      steps.defer('wifi access point down', () => ap.stop());
      wifi = ap.context;
    }

    instance = await openBoard(board, {
      os: opts.os,
      netArgs: network?.qemuNetArgs,
      wrapper: network?.wrapper,
      env: opts.env,
    });
    const inst = instance;
    steps.defer('power off and release', () => inst.release());

    flash = await steps.run('flash', () =>
      withInfraRetries(
        opts.retries ?? 1,
        async () => {
          await mkdir(path.dirname(inst.storage), { recursive: true });
          return flashToStorage(inst, image!.path, {
            signal: opts.signal,
            progress: opts.progress?.(`${board.name} flash`),
          });
        },
        (n, why) =>
          events.warn(
            `${board.name}: flash failed (${why}); retrying (infra retry ${n}/${opts.retries ?? 1})`,
          ),
      ),
    );

    // A flasher board: the card now holds the flasher, which writes internal storage.
    let consoleProven: string | undefined;
    if (board.type.boot.medium === 'flasher') {
      const stage = await steps.run('flasher', () => runFlasherStage(inst, board.type, opts.signal));
      events.info(
        `${board.name}: the flasher wrote internal storage in ${(stage.flasherMs / 1000).toFixed(1)} s (done by ${stage.doneBy === 'console' ? `"${board.type.markers.flasherDone}" on the console` : 'the current reading'}); booting from internal storage`,
      );
      if (stage.doneBy === 'console') consoleProven = 'during the flasher stage';
    }

    const patterns = failurePatterns(board.type);
    boot = new ConsoleBootSession({
      consoleProven,
      type: board.type,
      os: opts.os,
      console: inst.console,
      power: inst.power,
      failurePatterns: patterns,
      retries: opts.retries ?? 1,
      onRetry: (n, why) =>
        events.warn(
          `${board.name}: ${why}; power cycling and booting again (infra retry ${n}/${opts.retries ?? 1})`,
        ),
    });
    const bootSession = boot;
    tests = await steps.run('suites', () =>
      runSuites({
        files,
        grep: opts.grep,
        allureResultsDir: path.join(runDir, 'allure-results'),
        context: {
          boardName: board.name,
          type: board.type,
          os: opts.os,
          console: inst.console,
          power: inst.power,
          boot: bootSession,
          network,
          wifi,
          hostname: image!.hostname,
          artifacts: image!.artifacts,
          signal: opts.signal,
          options: opts.suiteOptions,
        },
        now: () => inst.console.now(),
        excerpt: (from, to) => consoleExcerpt(inst, from, to),
        environment: {
          board: board.name,
          boardType: board.type.name,
          image: image!.source,
          'image.sha256': image!.sha256,
          host: os.hostname(),
          reproduce: opts.reproduce,
        },
        signal: opts.signal,
        onWriteError: (err) => events.warn(`cannot write allure-results: ${errorMessage(err)}`),
        onResult: (r) =>
          events.info(
            `${board.name}:   ${r.verdict.padEnd(7)} ${r.suite}: ${r.title} (${(r.durationMs / 1000).toFixed(1)} s)${r.verdict === 'skipped' ? `: ${r.skipReason}` : r.message ? `: ${r.message.split('\n')[0]}` : ''}`,
          ),
      }),
    );
    if (opts.signal.aborted) throw new InterruptedError();
  } catch (err) {
    runError = err;
    log('run failed: %s', errorMessage(err));
  } finally {
    await steps.teardown();
  }
  const summary = await finish({
    opts,
    runId,
    runDir,
    started,
    steps: steps.records,
    tests,
    runError,
    image,
    instance,
    boot,
    flash,
  });
  if (!quarantined && summary.verdict !== 'interrupted') {
    const file = healthPath(opts.env);
    if (opts.healthCheck && summary.verdict === 'pass') await clearQuarantine(file, board.name);
    else {
      // Only the rig's own faults count: not a busy board, not a download server (boardFault: false).
      const strike = tests.some((t) => t.verdict === 'infra') || countsAgainstBoard(runError);
      const h = await recordVerdict(
        file,
        board.name,
        summary.verdict,
        summary.message ?? firstProblem(summary),
        opts.quarantineAfter,
        { strike },
      );
      if (h.quarantined && summary.verdict === 'infra')
        events.warn(`${board.name} is now quarantined: ${h.reason ?? ''}`);
    }
  }
  return summary;
}

function firstProblem(s: RunSummary): string | undefined {
  const t = s.tests.find((x) => x.verdict === s.verdict);
  return t ? `${t.fullTitle}: ${t.message ?? ''}` : undefined;
}

/** Retries what failed for the rig's sake only; a fail or a bug is returned at once. */
export async function withInfraRetries<T>(
  retries: number,
  fn: () => Promise<T>,
  onRetry: (n: number, why: string) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (classOf(err) !== 'infra' || attempt >= retries) throw err;
      onRetry(attempt + 1, errorMessage(err));
    }
  }
}

function consoleExcerpt(inst: BoardInstance, fromMs: number, toMs: number): string {
  const c = inst.console as { linesBetween?: (a: number, b: number) => { t: number; text: string }[] };
  const lines = c.linesBetween
    ? c.linesBetween(fromMs, toMs)
    : inst.console.lines.filter((l) => l.t >= fromMs && l.t <= toMs);
  return lines.map((l) => `[${(l.t / 1000).toFixed(3)}] ${l.text}`).join('\n');
}

interface FinishInput {
  opts: BoardRunOptions;
  runId: string;
  runDir: string;
  started: Date;
  steps: StepRecord[];
  tests: TestResult[];
  runError: unknown;
  image: PreparedImage | undefined;
  instance: BoardInstance | undefined;
  boot: ConsoleBootSession | undefined;
  flash: RunSummary['flash'];
}

async function finish(f: FinishInput): Promise<RunSummary> {
  const { opts } = f;
  const verdicts: Verdict[] = f.tests.map((t) => t.verdict);
  if (f.runError) verdicts.push(verdictOf(f.runError));
  if (opts.signal.aborted) verdicts.push('interrupted');
  if (f.tests.length === 0 && !f.runError) verdicts.push('error');
  const verdict = worst(verdicts);
  const stages: StageTiming[] = [];
  let prev = 0;
  for (const [stage, at] of f.boot?.timings ?? []) {
    stages.push({ stage, atMs: at, durationMs: at - prev });
    prev = at;
  }
  const finished = new Date();
  const summary: RunSummary = {
    schema: 1,
    runId: f.runId,
    board: opts.board.name,
    boardType: opts.board.type.name,
    host: os.hostname(),
    startedAt: f.started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - f.started.getTime(),
    verdict,
    exitCode: classOf(f.runError) === 'input' && verdict !== 'interrupted' ? 2 : exitCodeFor(verdict),
    image: {
      path: f.image?.source ?? opts.image ?? '',
      sha256: f.image?.sha256,
      version: f.image?.version,
      sizeBytes: f.image?.sizeBytes,
    },
    suites: opts.suites,
    tests: f.tests,
    // A lab board records its power and mux actions (rig/rig/lab-board.ts): merged in time order,
    // a step nested in another (started the same ms) before it.
    steps: [...f.steps, ...((f.instance as { steps?: readonly StepRecord[] } | undefined)?.steps ?? [])].sort(
      (a, b) => a.startedAt.localeCompare(b.startedAt) || a.durationMs - b.durationMs,
    ),
    stages,
    bootMs: f.boot?.timings.get('login'),
    flash: f.flash,
    findings: (f.instance?.console.findings ?? []).map((x) => ({
      severity: x.severity,
      pattern: x.pattern,
      line: x.line.text,
    })),
    reproduce: opts.reproduce,
    message: f.runError ? errorMessage(f.runError) : undefined,
  };
  if (f.instance) {
    const c = f.instance.console as { saveLog?: (file: string) => Promise<void> };
    try {
      if (c.saveLog) await c.saveLog(path.join(f.runDir, 'serial.log'));
    } catch (err) {
      opts.events.warn(`cannot write serial.log: ${errorMessage(err)}`);
    }
  }
  await writeRunReports(f.runDir, summary);
  opts.events.info(`${opts.board.name}: verdict ${verdict}; report in ${f.runDir}`);
  await stat(f.runDir);
  return summary;
}
