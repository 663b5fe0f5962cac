import type { ConsoleLine } from '../../../rig/console/console.js';
import { FailError } from '../../../rig/errors.js';
import { parseBootAttempt, parseUserspace, type BootAttempt, type UserspaceUp } from './boots.js';
import type { UpdateMarkers } from './settings.js';

/**
 * Which system the suite waits for after an update: `new` (a successful update: anything but the
 * system booted before), `old` (a rollback: the system booted before) or `any` (after a power
 * cut, whatever comes up is then judged).
 */
export type Awaited = 'new' | 'old' | 'any';

export interface FollowOptions {
  expect: Awaited;
  /** The token booted before the update (`commands.booted`). */
  old: string;
  /** The version it ran, to tell "did not switch" from "wrote the running system". */
  oldVersion?: string;
  /** The bootloader's limit of attempts of a new system; more is a fail at once. */
  bootlimit?: number;
  timeoutMs: number;
}

/** What one line told the follower: the awaited system is up, a verdict, or a boot that will end. */
export type Verdict = { up: UserspaceUp } | { fail: FailError } | { arm: true } | undefined;

/** Consecutive "cannot boot" lines tolerated above the bootlimit before the follow gives up. */
const BOOT_FAILED_SLACK = 1;

/**
 * Reads the console line by line after an update and says when the answer is there: the awaited
 * system up in userspace (and committed, when its boot was a trial), or a fail as soon as the
 * console shows one. Pure: the flow feeds it lines and acts on what it returns.
 */
export class BootWatch {
  readonly attempts: BootAttempt[] = [];
  readonly altboot: string[] = [];
  readonly resets: string[] = [];
  readonly healthFailed: string[] = [];
  readonly userspace: UserspaceUp[] = [];
  /** Line index of the last attempt, and of the last line of the boot before it. */
  attemptAt = -1;
  prevEnd = -1;
  private lastEnd = -1;
  private bootFailedRun: string[] = [];
  /** The awaited system is up on a trial boot: its commit (or a reset) comes next. */
  onTrial: UserspaceUp | undefined;

  constructor(
    private readonly markers: UpdateMarkers,
    readonly opts: Omit<FollowOptions, 'timeoutMs'>,
  ) {}

  /** A new system's attempt: another token than the old one, or a trial when the marker names none. */
  isNew(a: BootAttempt): boolean {
    return a.slot !== undefined ? a.slot !== this.opts.old : a.trial === true;
  }

  get newAttempts(): BootAttempt[] {
    return this.attempts.filter((a) => this.isNew(a));
  }

  feed(line: ConsoleLine, index: number): Verdict {
    const m = this.markers;
    const text = line.text;
    // A bootloader that resets when it cannot boot prints one line that is both.
    const cannotBoot = m.bootFailed?.test(text) ?? false;
    const failed = cannotBoot ? this.bootFailed(text.trim()) : undefined;
    if (m.reset.test(text)) {
      this.resets.push(text.trim());
      this.lastEnd = index;
      this.onTrial = undefined;
      return failed;
    }
    if (cannotBoot) return failed;
    if (m.healthFailed?.test(text)) this.healthFailed.push(text.trim());
    if (this.onTrial) return m.committed?.test(text) ? { up: this.onTrial } : undefined;
    if (m.altboot?.test(text)) this.altboot.push(text.trim());
    const a = parseBootAttempt(line, m);
    if (a) return this.attempt(a, index);
    const up = parseUserspace(line, m);
    return up ? this.up(up) : undefined;
  }

  private bootFailed(text: string): Verdict {
    this.bootFailedRun.push(text);
    const limit = (this.opts.bootlimit ?? 3) + 1 + BOOT_FAILED_SLACK;
    if (this.bootFailedRun.length < limit) return undefined;
    return {
      fail: new FailError(
        `the bootloader could not boot ${this.bootFailedRun.length} times in a row ("${text}") and never fell back to a system that boots`,
        { expected: 'a fallback', actual: this.bootFailedRun.slice(-5) },
      ),
    };
  }

  private attempt(a: BootAttempt, index: number): Verdict {
    this.attempts.push(a);
    this.prevEnd = Math.max(this.lastEnd, this.attemptAt);
    this.attemptAt = index;
    const tooMany = this.tooManyAttempts();
    if (tooMany) return { fail: tooMany };
    // A boot of a system not awaited ends in a reset: the boot session watches for the next one.
    const awaited = this.opts.expect === 'any' || (this.opts.expect === 'new') === this.isNew(a);
    return awaited ? undefined : { arm: true };
  }

  private up(up: UserspaceUp): Verdict {
    this.userspace.push(up);
    this.bootFailedRun = [];
    const isOld = up.slot === this.opts.old;
    if (this.opts.expect === 'new' && isOld) return { fail: this.oldCameBack(up) };
    if (this.opts.expect === 'old' && !isOld) return undefined;
    if (this.attempts[this.attempts.length - 1]?.trial && this.markers.committed) {
      this.onTrial = up;
      return undefined;
    }
    return { up };
  }

  private oldCameBack(up: UserspaceUp): FailError {
    const why = [...this.healthFailed, ...this.altboot];
    const { oldVersion } = this.opts;
    const cause = why.length
      ? `it rolled back: ${why.join(' | ')}`
      : oldVersion !== undefined && up.version !== oldVersion
        ? `it runs ${up.version} where ${oldVersion} ran: the update wrote the running system`
        : 'the update did not switch';
    return new FailError(
      `the system that ran before the update (${this.opts.old}, version ${up.version}) came up again instead of a new one: ${cause}; attempts: ${this.describeAttempts()}`,
      { expected: `a slot or deployment other than ${this.opts.old}`, actual: up.line },
    );
  }

  private tooManyAttempts(): FailError | undefined {
    const limit = this.opts.bootlimit;
    const last = this.attempts[this.attempts.length - 1];
    const onNew = this.newAttempts.length;
    if (limit === undefined || !last || !this.isNew(last) || onNew <= limit) return undefined;
    const which = last.slot ?? 'the new system';
    return new FailError(
      `the bootloader attempted ${which} ${onNew} times (bootlimit=${limit}) instead of falling back; attempts: ${this.attempts.map((x) => x.line).join(' | ')}`,
      {
        expected: `at most ${limit} attempts of ${which}`,
        actual: onNew,
        attempts: this.attempts.map((x) => x.line),
      },
    );
  }

  describeAttempts(): string {
    return this.attempts.length ? this.attempts.map((a) => a.line).join(' | ') : 'none on the console';
  }

  /** What the console showed, for a timeout message. */
  summary(): string {
    const parts = [`${this.attempts.length} boot attempts (${this.describeAttempts()})`];
    parts.push(`${this.resets.length} resets`);
    if (this.userspace.length)
      parts.push(`userspace up: ${this.userspace.map((u) => `${u.slot} ${u.version}`).join(', ')}`);
    if (this.onTrial) parts.push(`${this.onTrial.slot} up on trial, no commit seen`);
    if (this.altboot.length) parts.push(`fallbacks: ${this.altboot.join(' | ')}`);
    if (this.healthFailed.length) parts.push(`health check: ${this.healthFailed.join(' | ')}`);
    if (this.bootFailedRun.length) parts.push(`"cannot boot" ${this.bootFailedRun.length} times`);
    return parts.join('; ');
  }
}
