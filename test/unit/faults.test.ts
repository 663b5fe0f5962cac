import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BoardInstance } from '../../rig/board/board.js';
import { ConsoleBootSession } from '../../rig/board/boot-session.js';
import { loadLab } from '../../rig/catalog/lab.js';
import { InfraError, verdictOf } from '../../rig/errors.js';
import { REAL_DEPS, type FlashDeps } from '../../rig/flash/index.js';
import { openTarget, withRetries, type Target } from '../../rig/flash/target.js';
import { CommandPower } from '../../rig/power/command.js';
import { createLabBoard } from '../../rig/lab/lab-board.js';
import { flashToStorage } from '../../rig/runner/flash-step.js';
import { withInfraRetries } from '../../rig/runner/run-board.js';
import { GOOD_BOOT, SimBoard } from '../../rig/sim/console-board.js';
import { makeImage, MiB, tmpDir, withWrite } from './flash-helpers.js';

/**
 * The rows of the fault matrix that need hardware this machine does not have (a relay, an SD mux,
 * a failing card), at the runner level: the runner's own pieces (withInfraRetries, flashToStorage,
 * ConsoleBootSession) over the real drivers, with the fault injected where the driver offers it.
 */

const errno = (code: string) => Object.assign(new Error(code), { code });

/** A target whose writes fail as `fault(attempt)` says, over a real file. */
function failingTarget(fault: (attempt: number) => string | undefined, onOpen: () => number): FlashDeps {
  return {
    ...REAL_DEPS,
    async openTarget(info, size): Promise<Target> {
      const attempt = onOpen();
      const t = await openTarget(info, size);
      return withWrite(t, (real) => (buf, length, position) => {
        const code = fault(attempt);
        // The device answers every write with `code`, through the target's own retry policy.
        return code
          ? withRetries(t.path, 'write', position, () => Promise.reject(errno(code)))
          : real(buf, length, position);
      });
    },
  };
}

/** A board with no mux whose storage is a file: what the runner's flash step writes. */
function fileBoard(storage: string): BoardInstance & { sim: SimBoard } {
  const sim = new SimBoard([GOOD_BOOT]);
  return {
    name: 'sim',
    type: sim.type,
    os: sim.os,
    power: sim.power,
    console: sim.console,
    storage,
    sim,
    release: () => sim.power.off(),
  };
}

describe('fault matrix at the runner level (hardware this machine lacks)', function () {
  this.timeout(20_000);

  it('the relay command fails: infra, one power cycle retried, never a fail', async function () {
    const sim = new SimBoard([GOOD_BOOT]);
    await sim.console.open();
    const relay = new CommandPower({
      name: 'pdu-3',
      on: ['sh', '-c', 'echo "pdu-3: no answer from outlet 3" >&2; exit 1'],
      off: ['true'],
    });
    const retries: string[] = [];
    const boot = new ConsoleBootSession({
      type: sim.type,
      os: sim.os,
      console: sim.console,
      power: relay,
      failurePatterns: [],
      retries: 1,
      onRetry: (_, why) => retries.push(why),
    });
    const err = await boot.reach('bootloader').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InfraError);
    expect(verdictOf(err)).to.equal('infra');
    expect((err as Error).message).to.equal(
      'power pdu-3: on command failed (exit 1): pdu-3: no answer from outlet 3',
    );
    expect(retries).to.have.length(1);
    // A failed boot is remembered: the later stages say why they cannot run.
    expect(boot.failure).to.equal(err);
  });

  it('the same boot session passes with a working switch (so the check above is the relay)', async function () {
    const sim = new SimBoard([GOOD_BOOT]);
    await sim.console.open();
    const boot = new ConsoleBootSession({
      type: sim.type,
      os: sim.os,
      console: sim.console,
      power: sim.power,
      failurePatterns: [],
    });
    await boot.reach('login');
    expect(boot.timings.has('login')).to.equal(true);
    await sim.power.off();
  });

  it('the mux never shows its block device: infra naming the mux and device, retried once, board left off', async function () {
    const dir = tmpDir('hwt-faults-mux-');
    const labFile = join(dir, 'lab.yaml');
    writeFileSync(
      labFile,
      `boards:
  faults-mux-rig:
    type: qemu-x86-64
    power: { driver: sim-gpio-relay, chip: sim-faults-mux, line: 17, activeLow: true, offTimeMs: 10 }
    mux: { driver: virtual-mux, chip: sim-faults-mux, select: 22, hostLevel: 1, timeoutMs: 300 }
    serial: { device: qemu }
`,
    );
    const sim = new SimBoard([GOOD_BOOT]);
    const board = await createLabBoard(loadLab(labFile), 'faults-mux-rig', {
      os: sim.os,
      env: { HW_TEST_CACHE: dir },
    });
    const rig = board.virtualRig!;
    // The mux's select line takes the write and does nothing: the card never reaches the host.
    rig.chip.setStuck(22);
    const image = makeImage(join(dir, 'os.img'), 4 * MiB, [[0, MiB]]);
    const warned: string[] = [];
    const ctl = new AbortController();
    const err = await withInfraRetries(
      1,
      () => flashToStorage(board, image, { signal: ctl.signal }),
      (_, why) => warned.push(why),
    ).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InfraError);
    expect((err as Error).message).to.match(
      new RegExp(
        `^mux .*: block device ${rig.hostLink.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} did not appear within 0\\.3 s`,
      ),
    );
    expect(warned).to.have.length(1);
    await board.release();
    expect(rig.chip.level(17), 'the relay line is at its off level').to.equal(rig.relay.levelFor('off'));
    expect(rig.qemu.running()).to.equal(false);
    expect(existsSync(rig.hostLink)).to.equal(false);
  });

  it('a flash EIO, then the device gone: infra after the in-driver retries and one runner retry', async function () {
    const dir = tmpDir('hwt-faults-eio-');
    const image = makeImage(join(dir, 'os.img'), 8 * MiB, [[0, 2 * MiB]]);
    const board = fileBoard(join(dir, 'card.img'));
    let opens = 0;
    const deps = failingTarget(
      (a) => (a === 1 ? 'EIO' : 'ENODEV'),
      () => ++opens,
    );
    const warned: string[] = [];
    const err = await withInfraRetries(
      1,
      () => flashToStorage(board, image, { signal: new AbortController().signal, deps }),
      (_, why) => warned.push(why),
    ).catch((e: unknown) => e);
    expect(warned).to.deep.equal([`${board.storage}: EIO trying to write at offset 0 (5 tries)`]);
    expect(err).to.be.instanceOf(InfraError);
    expect((err as Error).message).to.equal(
      `${board.storage}: the device is gone (ENODEV while trying to write at offset 0)`,
    );
    expect(opens).to.equal(2);
    expect(await board.power.state()).to.equal('off');
  });

  it('a verify mismatch: infra, and the runner retry writes the card again and passes', async function () {
    const dir = tmpDir('hwt-faults-verify-');
    const image = makeImage(join(dir, 'os.img'), 8 * MiB, [[0, 2 * MiB]]);
    const board = fileBoard(join(dir, 'card.img'));
    let opens = 0;
    const flipOnce: FlashDeps = {
      ...REAL_DEPS,
      async openTarget(info, size) {
        const attempt = ++opens;
        const t = await openTarget(info, size);
        return withWrite(t, (real) => (buf, length, position) => {
          if (attempt > 1 || position !== 0) return real(buf, length, position);
          const bad = Buffer.from(buf.subarray(0, length));
          bad[4242] ^= 0x01;
          return real(bad, length, position);
        });
      },
    };
    const warned: string[] = [];
    const res = await withInfraRetries(
      1,
      () => flashToStorage(board, image, { signal: new AbortController().signal, deps: flipOnce }),
      (_, why) => warned.push(why),
    );
    expect(warned).to.deep.equal([
      `${board.storage}: verify failed: the device differs from the image at offset 4242 (0x1092)`,
    ]);
    expect(res.verified).to.equal(true);
    expect(readFileSync(board.storage).equals(readFileSync(image))).to.equal(true);
  });
});
