import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BoardInstance } from '../board/board.js';
import type { OsProfile } from '../catalog/os-profile.js';
import { sshLogin } from '../catalog/os-expect.js';
import { InfraError, InputError } from '../errors.js';
import { cacheRoot } from '../image/build.js';
import { SshDut } from '../net/ssh.js';
import { newRunId } from '../report/summary.js';
import { openBoard, type ResolvedBoard } from '../runner/board-factory.js';
import type { BoardRunOptions, RunBase, RunNetwork } from '../runner/context.js';
import { Multiplexer, type RunReporter } from '../runner/events.js';
import type { ProgressSink } from '../runner/flash-step.js';
import type { PreparedImage } from '../runner/prepare.js';
import { TaskList, TaskRunner, type Task } from '../runner/task-runner.js';
import * as task from '../runner/tasks.js';
import { StepLog } from '../util/steps.js';
import type { PowerAction, SshEndpoint } from './control.js';

/**
 * A board in a person's hands (`hw-test console`): locked for the session, and either started
 * (a virtual board, or a real one given --image: the run's own tasks prepare, flash and network
 * it, then power it on) or attached as it is (a real board without --image: its UART opened, its
 * power untouched). Closing runs the tasks' teardowns: a started board is powered off and released.
 */
export interface SessionOptions {
  board: ResolvedBoard;
  os: OsProfile;
  image?: string;
  reportsDir: string;
  lockTimeoutMs: number;
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  reporters: readonly RunReporter[];
  interactive: boolean;
  progress?: (label: string) => ProgressSink;
}

export interface HandsOnSession {
  readonly board: ResolvedBoard;
  readonly instance: BoardInstance;
  /** What the session flashed; absent when it attached to a real board as it was. */
  readonly image?: PreparedImage;
  /** The board's SSH address with the session's key, once its SSH answers. */
  sshEndpoint(signal?: AbortSignal): Promise<SshEndpoint>;
  power(action: PowerAction, signal?: AbortSignal): Promise<void>;
  /** The teardowns, in reverse order; never throws. */
  close(): Promise<void>;
}

const powerOn: Task<RunBase & { instance: BoardInstance }, object> = {
  step: 'power on',
  async setup({ board, instance, opts }) {
    // A real board's UART is opened by us; a QEMU board's opens with its power.
    if (!board.type.virtual) await instance.console.open(opts.signal);
    await instance.power.on(opts.signal);
    return {};
  },
};

/** A real board as it is: its console opened; its power and mux left as they are, then too. */
const attach: Task<RunBase, { instance: BoardInstance }> = {
  step: 'attach',
  async setup({ board, opts }) {
    const instance = await openBoard(board, { os: opts.os, env: opts.env });
    await instance.console.open(opts.signal);
    return { instance };
  },
  teardown: ({ instance }) => ({
    step: 'detach',
    run: async () => {
      await instance.console.close();
      await instance.power.close();
      await instance.mux?.close();
    },
  }),
};

const START = TaskList.start<RunBase>()
  .then(task.reserve)
  .then(task.workCopy)
  .then(task.accessPointPlan)
  .then(task.prepare)
  .then(task.network)
  .then(task.open)
  .then(task.flash)
  .then(task.flasherStage)
  .then(powerOn);

const ATTACH = TaskList.start<RunBase>().then(task.reserve).then(attach);

function sessionBase(o: SessionOptions, runDir: string): RunBase {
  const opts: BoardRunOptions = {
    board: o.board,
    os: o.os,
    image: o.image,
    suites: [],
    reportsDir: o.reportsDir,
    lockTimeoutMs: o.lockTimeoutMs,
    suiteOptions: {},
    signal: o.signal,
    reporters: o.reporters,
    interactive: o.interactive,
    env: o.env,
    reproduce: '',
    progress: o.progress,
  };
  return {
    board: o.board,
    opts,
    suites: [],
    // The session gives the board a network (so that `hw-test ssh` reaches it), never an AP.
    needs: { network: true, accessPoint: false, artifacts: [] },
    runDir,
    events: new Multiplexer(o.reporters),
    facts: { tests: [], quarantined: false },
  };
}

export async function openSession(o: SessionOptions): Promise<HandsOnSession> {
  const started = o.board.type.virtual || o.image !== undefined;
  // The session's scratch folder (a lab network's files; the work copy is named after it).
  const runDir = path.join(cacheRoot(o.env), 'hands-on', newRunId());
  await mkdir(runDir, { recursive: true });
  const events = new Multiplexer(o.reporters);
  const runner = new TaskRunner(
    new StepLog({
      begin: (name) => events.stepBegin(o.board.name, name),
      end: (r) => events.stepEnd(o.board.name, r),
    }),
  );
  const close = async () => {
    await runner.teardown();
    await rm(runDir, { recursive: true, force: true });
  };
  try {
    const base = sessionBase(o, runDir);
    if (!started) {
      const ctx = await ATTACH.run(base, runner);
      return session(o, ctx.instance, undefined, undefined, close);
    }
    const ctx = await START.run(base, runner);
    return session(o, ctx.instance, ctx.image, ctx.network, close);
  } catch (err) {
    await close();
    throw err;
  }
}

function session(
  o: SessionOptions,
  instance: BoardInstance,
  image: PreparedImage | undefined,
  network: RunNetwork | undefined,
  close: () => Promise<void>,
): HandsOnSession {
  return {
    board: o.board,
    instance,
    image,
    close,
    power: (action, signal) => instance.power[action](signal),
    async sshEndpoint(signal) {
      if (!image || !network) {
        throw new InputError(
          `${o.board.name}: this console session flashed nothing, so it has no key and no network for the board: give hw-test ssh --host ADDRESS --key FILE, or start the session with --image`,
        );
      }
      if ((await instance.power.state()) === 'off')
        throw new InputError(
          `${o.board.name} is powered off: hw-test power on --board ${o.board.name} first`,
        );
      const t = o.board.type.timeouts;
      const dut = await network.connect({ timeoutMs: (t.login + (t.ssh ?? 60)) * 1000, signal });
      await dut.close();
      if (!(dut instanceof SshDut)) throw new InfraError(`${o.board.name}: no SSH endpoint on this network`);
      const { user, password } = sshLogin(o.os);
      return { host: dut.address, port: dut.port, user, password, privateKey: image.sshKey.privateKey };
    },
  };
}
