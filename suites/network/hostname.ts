import { FailError, hostnameExpectation, type SuiteContext } from '../fixture.js';

/**
 * The hostname the board must announce and report, asked once per run: this run's when the
 * profile can configure it, else the profile's defaultHostname, else what commands.hostname
 * prints on the board's console; `why` says which, or why there is none.
 */
export class HostnameOracle {
  #answer: Promise<{ name?: string; why: string }> | undefined;

  constructor(
    private readonly ctx: Pick<SuiteContext, 'os' | 'hostname' | 'boot' | 'signal' | 'attach' | 'boardName'>,
  ) {}

  expected(): Promise<{ name?: string; why: string }> {
    this.#answer ??= this.find();
    return this.#answer;
  }

  private async find(): Promise<{ name?: string; why: string }> {
    const e = hostnameExpectation(this.ctx.os, this.ctx.hostname);
    if (e.kind === 'unknown') return { why: e.reason };
    if (e.kind === 'known') return { name: e.name, why: e.source };
    const shell = await this.ctx.boot.shell(this.ctx.signal);
    const r = await shell.run(e.command, { signal: this.ctx.signal });
    const name = r.stdout.trim().split('\n').pop()?.trim();
    this.ctx.attach('hostname (commands.hostname)', `${e.command}: exit ${r.code}: ${r.stdout}`);
    if (r.code !== 0 || !name)
      throw new FailError(
        `commands.hostname \`${e.command}\` on the console gave no hostname (exit ${r.code}): ${r.stdout.trim()}`,
        {
          board: this.ctx.boardName,
        },
      );
    return { name, why: e.source };
  }
}
