import type { CommandResult, Dut, SuiteContext } from '../../fixture.js';
import type { ConsoleLine } from '../../../rig/console/console.js';
import { FailError, TimeoutError, errorMessage } from '../../../rig/errors.js';
import { logger } from '../../../rig/log.js';
import { settle } from '../../../rig/util/abort.js';
import {
  readBoardState,
  readTrial,
  shellRunner,
  type BoardState,
  type CommandRunner,
} from './board-state.js';
import type { BootAttempt, UserspaceUp } from './boots.js';
import { remoteBundlePath, type Bundle } from './bundle.js';
import { BootWatch, type FollowOptions } from './follow.js';
import { BootHandover } from './handover.js';
import { LogTail } from './log-tail.js';
import { renderCommand, updateSettings, type UpdateSettings } from './settings.js';

const log = logger('update');

/** The parts of the suite context an update needs: interfaces only. */
export type UpdateRig = Pick<
  SuiteContext,
  'console' | 'power' | 'boot' | 'network' | 'os' | 'type' | 'signal'
>;

/** A running update command: settles with its result, or the error that ended the session. */
export interface RunningUpdate {
  command: string;
  result: Promise<CommandResult | Error>;
  /** Stops waiting for it (the SSH session is dropped by a cut or a reboot anyway). */
  abandon(): void;
}

/** When each update phase began, in console ms (the console's clock). */
export interface UpdateMarks {
  startedAt: number;
  writingAt?: number;
  verifyingAt?: number;
  /** The switch: the OS's marker, else the update command's exit. */
  switchedAt: number;
  /** The update command rebooted the board itself (a legacy agent): no reboot command is sent. */
  rebooted: boolean;
}

export interface FollowResult {
  attempts: BootAttempt[];
  altboot: string[];
  resets: string[];
  healthFailed: string[];
  up: UserspaceUp;
  /** The board was power-cycled after coming up, for the boot session to see a whole boot. */
  cycled: boolean;
}

export type SabotageKind = 'unbootable' | 'unhealthy';

/** The console lags SSH: after the command's exit, its last markers may still be on the wire. */
const CONSOLE_CATCH_UP_MS = 2000;
/** Polling interval for board state with no console event (the trial commit): not a settle time. */
const COMMIT_POLL_MS = 2000;

export class UpdateFlow {
  readonly settings: UpdateSettings;
  readonly handover: BootHandover;

  constructor(readonly r: UpdateRig) {
    this.settings = updateSettings(r.os);
    this.handover = new BootHandover(r.console, r.boot, r.type);
  }

  /** Board timeouts in ms, with the suite's defaults where the board type has none. */
  get ms() {
    const t = this.r.type.timeouts;
    return {
      command: t.command * 1000,
      update: (t.update ?? 300) * 1000,
      rollback: (t.rollback ?? 600) * 1000,
      ssh: (t.ssh ?? 60) * 1000,
      boot: (t.bootloader + t.kernel + t.userspace + t.login) * 1000,
    };
  }

  private get opts() {
    return { timeoutMs: this.ms.command, signal: this.r.signal };
  }

  async shell(): Promise<CommandRunner> {
    await this.r.boot.reach('shell', this.r.signal);
    return shellRunner(await this.r.boot.shell(this.r.signal));
  }

  async state(runner?: CommandRunner): Promise<BoardState> {
    return readBoardState(runner ?? (await this.shell()), this.r.os, this.settings, this.opts);
  }

  async connect(): Promise<Dut> {
    if (!this.r.network) throw new Error('no network: the caller checks skipReason() first');
    return this.r.network.connect({ timeoutMs: this.ms.ssh, signal: this.r.signal });
  }

  /** Copies the bundle over SSH (sftp); returns where it went and how long it took. */
  async copy(dut: Dut, bundle: Bundle, signal = this.r.signal): Promise<{ remote: string; ms: number }> {
    const remote = remoteBundlePath(this.settings.bundleDir, bundle);
    const t0 = Date.now();
    await dut.put(bundle.path, remote, { signal });
    return { remote, ms: Date.now() - t0 };
  }

  /** Deletes the bundle on the board, so a failed update leaves no file to fill its storage. */
  async removeBundle(runner: CommandRunner, remote: string): Promise<void> {
    const command = renderCommand(
      this.r.os.commands.remove ?? 'rm -f {file}',
      { file: remote },
      'commands.remove',
    );
    const r = await runner.run(command, this.opts).catch((e: unknown) => e as Error);
    if (r instanceof Error || r.code !== 0)
      log('removing %s failed: %s', remote, r instanceof Error ? r.message : r.stderr || r.stdout);
  }

  /** Starts the profile's update command over SSH: it installs and activates, the suite reboots. */
  startUpdate(dut: Dut, remote: string, bundle: Bundle): RunningUpdate {
    const command = renderCommand(
      this.r.os.commands.update ?? '',
      { file: remote, sha256: bundle.sha256 },
      'commands.update',
    );
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(this.r.signal.reason);
    this.r.signal.addEventListener('abort', onAbort, { once: true });
    log('update: %s', command);
    const result = dut
      .exec(command, { timeoutMs: this.ms.update, signal: ctl.signal })
      .then(
        (r): CommandResult | Error => r,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      )
      .finally(() => this.r.signal.removeEventListener('abort', onAbort));
    return { command, result, abandon: () => ctl.abort(new Error('abandoned')) };
  }

  /**
   * Waits for a console line while the update runs; stops as soon as the update command has
   * failed (its output quoted), or has succeeded without the line coming (`onDone` says what that
   * means), instead of waiting out the update timeout.
   */
  async untilOrEnded<T>(
    tail: LogTail,
    running: RunningUpdate,
    accept: (line: ConsoleLine) => T | undefined,
    what: string,
    onDone: (r: CommandResult) => T,
  ): Promise<T> {
    let ended: CommandResult | Error | undefined;
    const ctl = new AbortController();
    void running.result.then((r) => {
      ended = r;
      // Success: the line may still be on its way; failure: nothing more to wait for.
      if (r instanceof Error || r.code !== 0) ctl.abort();
      else setTimeout(() => ctl.abort(), CONSOLE_CATCH_UP_MS).unref();
    });
    try {
      return await tail.until(accept, {
        timeoutMs: this.ms.update,
        signal: AbortSignal.any([this.r.signal, ctl.signal]),
        what: `${what} (\`${running.command}\`)`,
      });
    } catch (err) {
      if (ended === undefined || this.r.signal.aborted) throw err;
      if (ended instanceof Error || ended.code !== 0) throw updateFailed(running.command, ended);
      return onDone(ended);
    }
  }

  /**
   * Waits until the update command has installed and activated the new system: it exits 0 (or,
   * for an agent that reboots by itself, prints its switch marker and resets). Notes when each
   * phase began on the console.
   */
  async waitSwitched(tail: LogTail, running: RunningUpdate): Promise<UpdateMarks> {
    const m = this.settings.markers;
    const marks: Omit<UpdateMarks, 'switchedAt' | 'rebooted'> & { switchedAt?: number } = {
      startedAt: tail.seen[0]?.t ?? this.r.console.now(),
    };
    const accept = (line: ConsoleLine): UpdateMarks | undefined => {
      if (m.writing?.test(line.text)) marks.writingAt ??= line.t;
      else if (m.verifying?.test(line.text)) marks.verifyingAt ??= line.t;
      else if (m.switched?.test(line.text)) marks.switchedAt ??= line.t;
      else if (marks.switchedAt !== undefined && m.reset.test(line.text)) {
        // The agent rebooted the board itself after switching.
        this.handover.arm();
        return { ...marks, switchedAt: marks.switchedAt, rebooted: true };
      }
      return undefined;
    };
    return this.untilOrEnded(tail, running, accept, 'the end of the update', () => {
      for (const l of tail.take()) accept(l);
      return { ...marks, switchedAt: marks.switchedAt ?? this.r.console.now(), rebooted: false };
    });
  }

  /** Runs the profile's sabotage of the just-installed system; its failure is the profile's error. */
  async sabotage(runner: CommandRunner, kind: SabotageKind, before: BoardState): Promise<string> {
    const template = this.settings.sabotage[kind];
    if (!template)
      throw new Error(`no update.sabotage.${kind} in ${this.r.os.file}: the caller checks first`);
    const command = renderCommand(template, { booted: before.booted }, `update.sabotage.${kind}`);
    const r = await runner.run(command, this.opts);
    if (r.code !== 0)
      throw new Error(
        `the OS profile's update.sabotage.${kind} (\`${command}\`) exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
      );
    return command;
  }

  /** Reboots into the new system: the boot session is armed first, the lost session expected. */
  async reboot(dut: Dut): Promise<void> {
    const command = this.r.os.commands.reboot ?? 'reboot';
    this.handover.arm();
    const r = await dut.exec(command, this.opts).catch((e: unknown) => e as Error);
    if (!(r instanceof Error) && r.code !== 0)
      throw new FailError(
        `\`${command}\` (commands.reboot) exited ${r.code}: ${(r.stderr || r.stdout).trim()}`,
      );
  }

  /**
   * Follows the board through its reboots until the awaited system is up in userspace (and, on a
   * trial boot, committed by its health check), then reaches its shell. Stops as soon as the
   * console shows the answer is another one (see BootWatch), quoting what it saw.
   */
  async followBoots(tail: LogTail, opts: FollowOptions): Promise<FollowResult> {
    const watch = new BootWatch(this.settings.markers, opts);
    const accept = (line: ConsoleLine) => {
      const v = watch.feed(line, tail.position - 1);
      if (v && 'arm' in v) {
        this.handover.arm();
        return undefined;
      }
      return v;
    };
    const what =
      opts.expect === 'new'
        ? `a new system (not ${opts.old}) up in userspace`
        : opts.expect === 'old'
          ? `${opts.old} up in userspace again`
          : 'a system up in userspace';
    let got;
    try {
      got = await tail.until(accept, { timeoutMs: opts.timeoutMs, signal: this.r.signal, what });
    } catch (err) {
      if (err instanceof TimeoutError)
        throw new TimeoutError('fail', `${err.message}; seen: ${watch.summary()}`, err.context);
      throw err;
    }
    if ('fail' in got) throw got.fail;
    const cycled = !this.handover.aligned(watch.prevEnd, watch.attemptAt);
    if (cycled) {
      // The session would meet an earlier boot's markers first: a clean boot of the same system.
      log('boot session not aligned with the final boot: power cycling');
      await this.r.boot.reboot({ hard: true, signal: this.r.signal });
    } else if (watch.onTrial) {
      // The health check's messages may have landed in the middle of the login prompt: an empty
      // line makes getty print a fresh one for the boot session to answer.
      await this.r.console.write('\n');
    }
    await this.r.boot.reach('shell', this.r.signal);
    return {
      attempts: watch.attempts,
      altboot: watch.altboot,
      resets: watch.resets,
      healthFailed: watch.healthFailed,
      up: got.up,
      cycled,
    };
  }

  /** Powers the board on after a cut and follows it until a system is up, then reaches its shell. */
  async powerOnAndFollow(opts: Omit<FollowOptions, 'timeoutMs' | 'expect'>): Promise<FollowResult> {
    await this.r.boot.reboot({ hard: true, signal: this.r.signal });
    // The session only watches from here: the power comes on below, under our eyes.
    this.handover.arm();
    const tail = new LogTail(this.r.console);
    await this.r.power.on(this.r.signal);
    return this.followBoots(tail, { ...opts, expect: 'any', timeoutMs: this.ms.rollback });
  }

  /**
   * Waits for the trial to end (the health check commits or rolls back), reading the trial state
   * every 2 s: the OS need not print anything the suite could wait for. A reset seen meanwhile
   * means the board rebooted during its trial.
   */
  async waitTrialOver(tail: LogTail, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const runner = await this.shell();
      if (!(await readTrial(runner, this.r.os, this.settings, this.opts))) return;
      const reset = tail.take().find((l) => this.settings.markers.reset.test(l.text));
      if (reset)
        throw new FailError(`the board reset during its trial, before committing: "${reset.text.trim()}"`, {
          seen: this.r.console.lastLines(50),
        });
      if (Date.now() > deadline)
        throw new FailError(
          `the booted system was not committed within ${timeoutMs / 1000} s: still on trial`,
          {
            expected: 'trial 0',
            actual: 'trial 1',
            seen: this.r.console.lastLines(50),
          },
        );
      await settle(COMMIT_POLL_MS, this.r.signal);
    }
  }

  async clearBreadcrumbs(runner: CommandRunner): Promise<boolean> {
    const cmd = this.r.os.commands.clearBreadcrumbs;
    if (!cmd) return false;
    const r = await runner.run(cmd, this.opts);
    if (r.code !== 0) log('clearing breadcrumbs failed: %s', r.stderr || r.stdout);
    return r.code === 0;
  }
}

export function updateFailed(command: string, ended: CommandResult | Error): FailError {
  if (ended instanceof Error)
    return new FailError(
      `\`${command}\` lost its session before the update was activated: ${errorMessage(ended)}`,
    );
  const out = (ended.stderr || ended.stdout).trim().split('\n').slice(-5).join(' | ');
  return new FailError(`\`${command}\` exited ${ended.code} before the update was activated: ${out}`, {
    expected: 0,
    actual: ended.code,
    stdout: ended.stdout,
    stderr: ended.stderr,
  });
}
