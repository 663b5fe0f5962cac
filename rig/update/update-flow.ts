import type { CommandResult, Dut, SuiteContext } from '../suite-api/contracts.js';
import type { ConsoleLine } from '../console/console.js';
import { FailError, errorMessage } from '../errors.js';
import { logger } from '../log.js';
import { settle } from '../util/abort.js';
import {
  readBoardState,
  readBootenv,
  shellRunner,
  type BoardState,
  type CommandRunner,
} from './board-state.js';
import { parseBootAttempt, parseUserspace, type BootAttempt, type UserspaceUp } from './boots.js';
import { remoteBundlePath, type Bundle } from './bundle.js';
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
  writingAt?: number;
  verifyingAt?: number;
  switchedAt: number;
}

export interface FollowResult {
  attempts: BootAttempt[];
  altboot: string[];
  resets: string[];
  up: UserspaceUp;
  /** The board was power-cycled after coming up, for the boot session to see a whole boot. */
  cycled: boolean;
}

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

  async shell(): Promise<CommandRunner> {
    await this.r.boot.reach('shell', this.r.signal);
    return shellRunner(await this.r.boot.shell(this.r.signal));
  }

  async state(runner?: CommandRunner): Promise<BoardState> {
    return readBoardState(runner ?? (await this.shell()), this.r.os, this.settings, {
      timeoutMs: this.ms.command,
      signal: this.r.signal,
    });
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

  /** Starts the profile's update command over SSH; the board reboots at its end on the reference OS. */
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
   * Waits until the update has switched the bootloader to the new slot, noting when each phase
   * began. The command ending before that (non-zero, or its session lost) fails, quoting it.
   */
  async waitSwitched(tail: LogTail, running: RunningUpdate): Promise<UpdateMarks> {
    const m = this.settings.markers;
    const marks: Partial<UpdateMarks> = {};
    let ended: CommandResult | Error | undefined;
    void running.result.then((r) => (ended = r));
    const accept = (line: ConsoleLine): true | undefined => {
      if (m.writing.test(line.text)) marks.writingAt ??= line.t;
      else if (m.verifying.test(line.text)) marks.verifyingAt ??= line.t;
      else if (m.switched.test(line.text)) {
        marks.switchedAt = line.t;
        // The board resets next: the boot session watches for the new boot from here.
        this.handover.arm();
        return true;
      }
      return undefined;
    };
    const ctl = new AbortController();
    const stop = (r: CommandResult | Error) => {
      // The markers go to the console, the exit to SSH: give the console a moment to catch up.
      if (r instanceof Error || r.code !== 0) setTimeout(() => ctl.abort(), 2000).unref();
    };
    void running.result.then(stop);
    try {
      await tail.until(accept, {
        timeoutMs: this.ms.update,
        signal: AbortSignal.any([this.r.signal, ctl.signal]),
        what: `the update's switch to the new slot (\`${running.command}\`)`,
      });
    } catch (err) {
      if (ended !== undefined && !this.r.signal.aborted) throw updateFailed(running.command, ended);
      throw err;
    }
    return marks as UpdateMarks;
  }

  /**
   * Follows the board through its reboots until `expectSlot` is up in userspace (and, on a trial
   * boot, committed by its health check), then reaches its shell. Each reset moves the boot
   * session on to the next boot. Fails as soon as the new slot is attempted more than `bootlimit`
   * times: the bootloader did not fall back.
   */
  async followBoots(
    tail: LogTail,
    opts: { expectSlot?: string; newSlot: string; bootlimit?: number; timeoutMs: number },
  ): Promise<FollowResult> {
    const m = this.settings.markers;
    const attempts: BootAttempt[] = [];
    const altboot: string[] = [];
    const resets: string[] = [];
    /** Line index of the last attempt, and of the last line of the boot before it. */
    let attemptAt = -1;
    let prevEnd = -1;
    let lastEnd = -1;
    /** The expected slot is up on a trial boot: wait for its commit (or a reset) before logging in. */
    let onTrial: UserspaceUp | undefined;
    const accept = (line: ConsoleLine): UserspaceUp | FailError | undefined => {
      const at = tail.position - 1;
      if (m.reset.test(line.text)) {
        resets.push(line.text.trim());
        lastEnd = at;
        onTrial = undefined;
        return undefined;
      }
      if (onTrial) return m.committed.test(line.text) ? onTrial : undefined;
      if (m.altboot.test(line.text)) altboot.push(line.text.trim());
      const a = parseBootAttempt(line, m);
      if (a) {
        attempts.push(a);
        prevEnd = Math.max(lastEnd, attemptAt);
        attemptAt = at;
        // A boot of the slot not awaited ends in a reset: the session watches for the next one.
        if (opts.expectSlot !== undefined && a.slot !== opts.expectSlot) this.handover.arm();
        return this.tooManyAttempts(attempts, opts);
      }
      const up = parseUserspace(line, m);
      if (!up || (opts.expectSlot !== undefined && up.slot !== opts.expectSlot)) return undefined;
      if (attempts[attempts.length - 1]?.trial) {
        onTrial = up;
        return undefined;
      }
      return up;
    };
    const what = opts.expectSlot ? `slot ${opts.expectSlot} up in userspace` : 'a slot up in userspace';
    const got = await tail.until(accept, { timeoutMs: opts.timeoutMs, signal: this.r.signal, what });
    if (got instanceof FailError) throw got;
    const cycled = !this.handover.aligned(prevEnd, attemptAt);
    if (cycled) {
      // The session would meet an earlier boot's markers first: a clean boot of the same slot.
      log('boot session not aligned with the final boot: power cycling');
      await this.r.boot.reboot({ hard: true, signal: this.r.signal });
    } else if (onTrial) {
      // The health check's messages may have landed in the middle of the login prompt: an empty
      // line makes getty print a fresh one for the boot session to answer.
      await this.r.console.write('\n');
    }
    await this.r.boot.reach('shell', this.r.signal);
    return { attempts, altboot, resets, up: got, cycled };
  }

  private tooManyAttempts(
    attempts: BootAttempt[],
    opts: { newSlot: string; bootlimit?: number },
  ): FailError | undefined {
    const onNew = attempts.filter((x) => x.slot === opts.newSlot).length;
    const last = attempts[attempts.length - 1];
    if (opts.bootlimit === undefined || last?.slot !== opts.newSlot || onNew <= opts.bootlimit)
      return undefined;
    return new FailError(
      `the bootloader attempted slot ${opts.newSlot} ${onNew} times (${this.settings.bootlimitVariable}=${opts.bootlimit}) instead of falling back; attempts: ${attempts.map((x) => x.line).join(' | ')}`,
      {
        expected: `at most ${opts.bootlimit} attempts of slot ${opts.newSlot}`,
        actual: onNew,
        attempts: attempts.map((x) => x.line),
      },
    );
  }

  /**
   * Powers the board on after a cut and follows it until a slot is up (falling back on its own
   * is allowed; more than `bootlimit` attempts of the new slot is not), then reaches its shell.
   */
  async powerOnAndFollow(opts: { newSlot: string; bootlimit?: number }): Promise<FollowResult> {
    await this.r.boot.reboot({ hard: true, signal: this.r.signal });
    // The session only watches from here: the power comes on below, under our eyes.
    this.handover.arm();
    const tail = new LogTail(this.r.console);
    await this.r.power.on(this.r.signal);
    return this.followBoots(tail, { ...opts, timeoutMs: this.ms.rollback });
  }

  /**
   * Waits for the trial to end (the health check commits or rolls back): the OS gives no console
   * event the suite could rely on, so the variable is read every 2 s. A reset seen meanwhile
   * means the board rebooted during its trial.
   */
  async waitTrialOver(tail: LogTail, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const trial = this.settings.trialVariable;
    for (;;) {
      const runner = await this.shell();
      const env = await readBootenv(runner, this.r.os, [trial], {
        timeoutMs: this.ms.command,
        signal: this.r.signal,
      });
      const v = env[trial] ?? '0';
      if (v === '0') return v;
      const reset = tail.take().find((l) => this.settings.markers.reset.test(l.text));
      if (reset)
        throw new FailError(`the board reset during its trial, before committing: "${reset.text.trim()}"`, {
          seen: this.r.console.lastLines(50),
        });
      if (Date.now() > deadline)
        throw new FailError(`the update was not committed within ${timeoutMs / 1000} s: ${trial}=${v}`, {
          expected: `${trial}=0`,
          actual: v,
          seen: this.r.console.lastLines(50),
        });
      await settle(COMMIT_POLL_MS, this.r.signal);
    }
  }

  async clearBreadcrumbs(runner: CommandRunner): Promise<boolean> {
    const cmd = this.r.os.commands.clearBreadcrumbs;
    if (!cmd) return false;
    const r = await runner.run(cmd, { timeoutMs: this.ms.command, signal: this.r.signal });
    if (r.code !== 0) log('clearing breadcrumbs failed: %s', r.stderr || r.stdout);
    return r.code === 0;
  }
}

export function updateFailed(command: string, ended: CommandResult | Error): FailError {
  if (ended instanceof Error)
    return new FailError(`\`${command}\` lost its session before switching slots: ${errorMessage(ended)}`);
  const out = (ended.stderr || ended.stdout).trim().split('\n').slice(-5).join(' | ');
  return new FailError(`\`${command}\` exited ${ended.code} before switching slots: ${out}`, {
    expected: 0,
    actual: ended.code,
    stdout: ended.stdout,
    stderr: ended.stderr,
  });
}
