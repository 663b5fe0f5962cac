import { expect } from 'chai';
import { ConsoleBootSession } from '../../rig/board/boot-session.js';
import { failurePatterns } from '../../rig/catalog/board.js';
import { FailError, InfraError } from '../../rig/errors.js';
import { GOOD_BOOT, SimBoard, type BootScript } from '../../rig/sim/console-board.js';

async function session(boots: BootScript[], opts: { retries?: number; timeoutsS?: number } = {}) {
  const sim = new SimBoard(boots, opts.timeoutsS ?? 0.5);
  await sim.console.open();
  const retriesSeen: string[] = [];
  const boot = new ConsoleBootSession({
    type: sim.type,
    os: sim.os,
    console: sim.console,
    power: sim.power,
    failurePatterns: failurePatterns(sim.type),
    retries: opts.retries,
    onRetry: (_n, why) => retriesSeen.push(why),
  });
  return { sim, boot, retriesSeen };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('boot session (console state machine)', function () {
  it('walks every stage in order, logs in, and runs commands with their real exit codes', async function () {
    const { boot } = await session([GOOD_BOOT]);
    const shell = await boot.shell();
    expect([...boot.timings.keys()]).to.deep.equal(['bootloader', 'kernel', 'userspace', 'login', 'shell']);
    const uname = await shell.run('uname -m; uname -r');
    expect(uname).to.deep.include({ code: 0, stdout: 'x86_64\n6.1.0-50-amd64' });
    expect((await shell.run('false')).code).to.equal(1);
    expect((await shell.run('nosuchcmd')).code).to.equal(127);
  });

  it('fails at once on a kernel panic, quoting the line, and does not retry it', async function () {
    const panic = [
      GOOD_BOOT[0],
      GOOD_BOOT[1],
      '[    5.5] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\r\n',
    ];
    const { boot, sim } = await session([panic, GOOD_BOOT], { retries: 2 });
    const err = await rejection(boot.reach('login'));
    expect(err).to.be.instanceOf(FailError);
    expect(err.message).to.match(/Kernel panic - not syncing: Attempted to kill init/);
    expect(sim.powerOns).to.equal(1);
    expect(boot.failure).to.equal(err);
  });

  it('calls a board that spoke and then went silent a fail, with the last lines it printed', async function () {
    const { boot, sim } = await session([[GOOD_BOOT[0], GOOD_BOOT[1]]], { retries: 2 });
    const err = await rejection(boot.reach('login'));
    expect(err).to.be.instanceOf(FailError);
    expect(err.message).to.match(/userspace not reached within/);
    expect((err as FailError).context.seen?.join('\n')).to.match(/Linux version 6\.1\.0/);
    expect(sim.powerOns, 'a fail is never retried into a pass').to.equal(1);
  });

  it('calls a board with no output at all an infra error, and power cycles it once per retry', async function () {
    const { boot, sim, retriesSeen } = await session([[], GOOD_BOOT], { retries: 1 });
    await boot.reach('login');
    expect(sim.powerOns).to.equal(2);
    expect(retriesSeen).to.have.length(1);
    expect(retriesSeen[0]).to.match(/no output at all/);
  });

  it('gives up with an infra error when the board stays silent through every retry', async function () {
    const { boot, sim } = await session([[]], { retries: 1 });
    const err = await rejection(boot.reach('bootloader'));
    expect(err).to.be.instanceOf(InfraError);
    expect(err.message).to.match(/no output at all on sim console while waiting for the bootloader/);
    expect(sim.powerOns).to.equal(2);
  });

  it('fails the login when the OS refuses the password', async function () {
    const { boot, sim } = await session([GOOD_BOOT]);
    sim.password = 'something-else';
    const err = await rejection(boot.reach('shell'));
    expect(err).to.be.instanceOf(FailError);
    expect(err.message).to.match(/login as root failed/);
  });
});
