import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lockBoard } from '../../rig/runner/lock.js';
import { InfraError } from '../../rig/errors.js';

describe('board lock', function () {
  const env = () => ({ ...process.env, HW_TEST_LOCK_DIR: mkdtempSync(path.join(os.tmpdir(), 'hwt-lock-')) });
  const board = () => `test-board-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;

  it('lets one holder in, makes the second wait and give up with who holds it (infra)', async function () {
    const e = env();
    const b = board();
    const first = await lockBoard(b, { timeoutMs: 0, env: e });
    let told: unknown;
    try {
      await lockBoard(b, { timeoutMs: 300, env: e, onWait: (h) => (told = h) });
      expect.fail('the second lock should not be granted');
    } catch (err) {
      expect(err).to.be.instanceOf(InfraError);
      expect((err as Error).message).to.match(
        new RegExp(`board ${b} is busy: held by pid ${process.pid} on `),
      );
    }
    expect(told).to.include({ pid: process.pid, board: b });
    await first.release();
    const again = await lockBoard(b, { timeoutMs: 0, env: e });
    await again.release();
  });

  it('is freed by the kernel when the holder is killed, and the next run takes over with a warning', async function () {
    this.timeout(10_000);
    const e = env();
    const b = board();
    // A holder in another process, killed with SIGKILL: no teardown of its own runs.
    const script = path.join(mkdtempSync(path.join(os.tmpdir(), 'hwt-lock-')), 'hold.mjs');
    writeFileSync(
      script,
      `import { lockBoard } from ${JSON.stringify(path.resolve('dist/rig/runner/lock.js'))};
       await lockBoard(${JSON.stringify(b)}, { timeoutMs: 0 });
       console.log('held'); setInterval(() => {}, 1000);`,
    );
    const child = spawn(process.execPath, [script], { env: e, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    let busy = false;
    await lockBoard(b, { timeoutMs: 0, env: e }).then(
      (l) => l.release(),
      () => (busy = true),
    );
    expect(busy, 'held by the live child').to.equal(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    let dead: { pid: number } | undefined;
    const lock = await lockBoard(b, { timeoutMs: 2000, env: e, onTakeOver: (d) => (dead = d) });
    expect(dead?.pid).to.equal(child.pid);
    await lock.release();
  });
});
