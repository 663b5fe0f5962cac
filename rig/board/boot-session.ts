import type { BoardType } from '../catalog/board.js';
import { markerHint, timeoutHint, type EffectiveBoardType } from '../catalog/effective-board.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { Console, FailurePattern } from '../console/console.js';
import { FailError, HwTestError, InfraError, TimeoutError } from '../errors.js';
import { logger } from '../log.js';
import type { PowerSwitch } from '../power/power-switch.js';
import type { BootSession, BootStage, ConsoleShell } from '../suite-api/contracts.js';
import { ConsoleShellImpl, consoleLogin } from './console-shell.js';

const log = logger('boot');

export const BOOT_STAGES: readonly BootStage[] = ['bootloader', 'kernel', 'userspace', 'login', 'shell'];

export interface BootDeps {
  type: BoardType;
  os: OsProfile;
  console: Console;
  power: PowerSwitch;
  failurePatterns: FailurePattern[];
  /** Called once the board is powered on (e.g. to record a step). */
  onStage?: (stage: BootStage, msSincePowerOn: number) => void;
  /**
   * Power cycles allowed when a boot gives no output at all (an infra error: a USB hub glitch, a
   * relay that stuck). Never used for a board that spoke and then failed: that is the image.
   */
  retries?: number;
  onRetry?: (attempt: number, reason: string) => void;
  /**
   * Where this console was seen working in this run (`during the flasher stage`): a silent boot
   * is then the board's own failure (a flasher that left internal storage unbootable), not the rig's.
   */
  consoleProven?: string;
}

/**
 * The boot as a state machine over the console: each stage is awaited in order, with the board
 * type's timeout, the kernel failure patterns armed. A stage reached is never waited for again in
 * the same boot; a failure is remembered so later suites can say why they cannot run.
 */
export class ConsoleBootSession implements BootSession {
  readonly timings = new Map<BootStage, number>();
  failure: Error | undefined;
  private powerOnAt: number | undefined;
  private bytesAtPowerOn = 0;
  private shellImpl: ConsoleShell | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly deps: BootDeps) {}

  reach(stage: BootStage, signal?: AbortSignal): Promise<void> {
    const next = this.pending.then(() => this.reachNow(stage, signal));
    this.pending = next.catch(() => {});
    return next;
  }

  /** Infra retries used in this run (power cycles after a silent boot). */
  retriesUsed = 0;

  private async reachNow(stage: BootStage, signal?: AbortSignal): Promise<void> {
    if (this.failure) throw this.failure;
    for (let i = 0; i < BOOT_STAGES.length; i++) {
      const s = BOOT_STAGES[i];
      if (!this.timings.has(s)) {
        try {
          await this.step(s, signal);
        } catch (err) {
          if (this.silent(err) && this.retriesUsed < (this.deps.retries ?? 0)) {
            this.retriesUsed += 1;
            this.deps.onRetry?.(this.retriesUsed, (err as Error).message);
            await this.deps.power.off(signal);
            this.reset();
            i = -1;
            continue;
          }
          if (!(err instanceof HwTestError && err.class === 'interrupted')) this.failure = err as Error;
          throw err;
        }
      }
      if (s === stage) return;
    }
  }

  private silent(err: unknown): boolean {
    return err instanceof InfraError && this.deps.console.bytesReceived === this.bytesAtPowerOn;
  }

  private async step(stage: BootStage, signal?: AbortSignal): Promise<void> {
    const { type, os, console } = this.deps;
    const t = type.timeouts;
    if (stage === 'bootloader' && this.powerOnAt === undefined) await this.powerOn(signal);
    const wait = async (
      pattern: string,
      key: 'bootloader' | 'kernel' | 'userspace' | 'login',
      what: string,
    ) => {
      try {
        await console.expect(new RegExp(pattern, 'm'), {
          timeoutMs: t[key] * 1000,
          signal,
          failOn: this.deps.failurePatterns,
          what,
        });
      } catch (err) {
        throw this.classify(err, what, key);
      }
    };
    switch (stage) {
      case 'bootloader':
        await wait(type.markers.bootloader, 'bootloader', 'the bootloader');
        break;
      case 'kernel':
        await wait(type.markers.kernel, 'kernel', 'the kernel');
        break;
      case 'userspace':
        await wait(type.markers.userspace, 'userspace', 'userspace');
        break;
      case 'login':
        await wait(
          os.console.user ? os.console.loginPrompt : os.console.shellPrompt,
          'login',
          'the login prompt',
        );
        break;
      case 'shell':
        try {
          await consoleLogin(console, os, t.login * 1000, signal);
        } catch (err) {
          throw this.classify(err, 'a shell after login', 'login', 'shellPrompt');
        }
        this.shellImpl = new ConsoleShellImpl(console, os, t.command * 1000);
        break;
    }
    const at = console.now() - (this.powerOnAt ?? 0);
    this.timings.set(stage, at);
    log('%s reached at %d ms', stage, at);
    this.deps.onStage?.(stage, at);
  }

  /** A silent console is the rig's fault when not one byte came since power on; otherwise the board's. */
  private classify(
    err: unknown,
    what: string,
    key: 'bootloader' | 'kernel' | 'userspace' | 'login',
    prompt?: 'shellPrompt',
  ): unknown {
    if (!(err instanceof TimeoutError)) return err;
    const received = this.deps.console.bytesReceived - this.bytesAtPowerOn;
    if (received === 0 && this.deps.consoleProven) {
      return new FailError(
        `no output at all on ${this.deps.console.name} while waiting for ${what}, though it worked ${this.deps.consoleProven}: the board did not start from what was written`,
        err.context,
      );
    }
    if (received === 0) {
      return new InfraError(
        `no output at all on ${this.deps.console.name} while waiting for ${what}: check the serial wiring and the power switch`,
        err.context,
      );
    }
    // Which limit ran out, where it was set and how to change it; for a marker, which line was awaited.
    const type = this.deps.type as EffectiveBoardType;
    const waited =
      key === 'login'
        ? `console.${prompt ?? (this.deps.os.console.user ? 'loginPrompt' : 'shellPrompt')} of the OS profile ${this.deps.os.file}`
        : markerHint(type, key);
    return new FailError(
      `${what} not reached within ${Number((Number(err.context.timeoutMs) / 1000).toFixed(1))} s (waiting for ${waited}; ${timeoutHint(type, key)})`,
      err.context,
    );
  }

  private async powerOn(signal?: AbortSignal): Promise<void> {
    this.deps.console.skipPending();
    this.bytesAtPowerOn = this.deps.console.bytesReceived;
    this.powerOnAt = this.deps.console.now();
    await this.deps.power.on(signal);
  }

  async shell(signal?: AbortSignal): Promise<ConsoleShell> {
    await this.reach('shell', signal);
    return this.shellImpl!;
  }

  async reboot(opts: { hard?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.pending;
    if (opts.hard !== false) await this.deps.power.off(opts.signal);
    this.reset();
  }

  expectReboot(): void {
    this.reset();
    // The board restarts by itself: its power stays on, so the next reach() only watches.
    this.powerOnAt = this.deps.console.now();
    this.bytesAtPowerOn = this.deps.console.bytesReceived;
    this.deps.console.skipPending();
  }

  private reset(): void {
    this.timings.clear();
    this.failure = undefined;
    this.shellImpl = undefined;
    this.powerOnAt = undefined;
  }
}
