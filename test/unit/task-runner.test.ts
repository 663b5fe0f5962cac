import { expect } from 'chai';
import { FailError, InfraError } from '../../rig/errors.js';
import { Multiplexer } from '../../rig/runner/events.js';
import { TaskList, TaskRunner, type Task } from '../../rig/runner/task-runner.js';
import { runExitCode, runVerdict } from '../../rig/runner/verdict.js';
import { StepLog, runTeardowns } from '../../rig/util/steps.js';

describe('runner: tasks, steps, teardowns, events', () => {
  it('runs tasks in order over a typed context, each output merged for the next', async () => {
    const order: string[] = [];
    const a: Task<{ base: number }, { a: number }> = {
      step: 'a',
      setup: ({ base }) => (order.push('a'), Promise.resolve({ a: base + 1 })),
      teardown: ({ a: v }) => ({ step: 'undo a', run: () => (order.push(`undo a ${v}`), Promise.resolve()) }),
    };
    const b: Task<{ a: number }, { b: number }> = {
      setup: ({ a: v }) => (order.push('b'), Promise.resolve({ b: v * 10 })),
    };
    const log = new StepLog();
    const runner = new TaskRunner(log);
    const ctx = await TaskList.start<{ base: number }>().then(a).then(b).run({ base: 1 }, runner);
    expect(ctx).to.deep.equal({ base: 1, a: 2, b: 20 });
    await runner.teardown();
    expect(order).to.deep.equal(['a', 'b', 'undo a 2']);
    // A task without a step is plumbing: only `a` and its teardown are steps.
    expect(log.records.map((r) => `${r.name} ${r.verdict}`)).to.deep.equal(['a pass', 'undo a pass']);
  });

  it('stops at the first failing task; teardowns run in reverse order, all of them, failures recorded', async () => {
    const undone: string[] = [];
    const task = (name: string, fail?: Error): Task<object, object> => ({
      step: name,
      setup: () => (fail ? Promise.reject(fail) : Promise.resolve({})),
      teardown: () => ({
        step: `undo ${name}`,
        run: () => {
          undone.push(name);
          return name === 'b' ? Promise.reject(new Error('stuck relay')) : Promise.resolve();
        },
      }),
    });
    const log = new StepLog();
    const runner = new TaskRunner(log);
    const list = TaskList.start<object>()
      .then(task('a'))
      .then(task('b'))
      .then(task('c', new FailError('kernel panic')))
      .then(task('d'));
    const err = await list.run({}, runner).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(FailError);
    await runner.teardown();
    expect(undone).to.deep.equal(['b', 'a']);
    expect(log.records.map((r) => `${r.name} ${r.verdict}`)).to.deep.equal([
      'a pass',
      'b pass',
      'c fail',
      // A teardown's unclassified failure is the rig's.
      'undo b infra',
      'undo a pass',
    ]);
  });

  it('a task the run does not need records no step and registers no teardown', async () => {
    const log = new StepLog();
    const runner = new TaskRunner(log);
    const optional: Task<object, { net: string | undefined }> = {
      step: 'network',
      skip: () => ({ net: undefined }),
      setup: () => Promise.reject(new Error('not called')),
      teardown: () => ({ step: 'network down', run: () => Promise.reject(new Error('not called')) }),
    };
    const ctx = await TaskList.start<object>().then(optional).run({}, runner);
    await runner.teardown();
    expect(ctx).to.deep.equal({ net: undefined });
    expect(log.records).to.deep.equal([]);
  });

  it('bounds each teardown by its deadline and goes on with the next', async () => {
    const ran: string[] = [];
    const errors = await runTeardowns(
      [
        { step: 'first', run: () => (ran.push('first'), Promise.resolve()) },
        { step: 'stuck', run: () => new Promise<void>(() => {}) },
      ],
      { deadlineMs: 20 },
    );
    expect(ran).to.deep.equal(['first']);
    expect(errors.map((e) => (e as Error).message)).to.deep.equal([
      'teardown "stuck" did not finish within 0.02 s',
    ]);
  });

  it('a broken reporter does not stop the others, nor the run', () => {
    const seen: string[] = [];
    const events = new Multiplexer([
      {
        stepBegin: () => {
          throw new Error('reporter bug');
        },
      },
      { stepBegin: (board, step) => seen.push(`${board} ${step}`) },
    ]);
    events.stepBegin('rpi3-1', 'flash');
    expect(seen).to.deep.equal(['rpi3-1 flash']);
  });

  it('the run verdict: the worst result; nothing tested and no error is an error, never a pass', () => {
    const t = (verdict: 'pass' | 'fail' | 'skipped', suite = 'boot') =>
      ({ verdict, suite }) as Parameters<typeof runVerdict>[0]['tests'][number];
    const v = (tests: ReturnType<typeof t>[], more: { runError?: unknown; aborted?: boolean } = {}) =>
      runVerdict({ suites: ['boot'], tests, runError: more.runError, aborted: more.aborted ?? false });
    expect(v([t('pass'), t('skipped')])).to.equal('pass');
    expect(v([t('pass'), t('fail')])).to.equal('fail');
    expect(v([])).to.equal('error');
    expect(v([], { runError: new InfraError('mux') })).to.equal('infra');
    expect(v([t('pass')], { aborted: true })).to.equal('interrupted');
  });

  it('the run verdict: a requested suite that tested nothing in a run that got through is a MISS (exit 4)', () => {
    const t = (verdict: 'pass' | 'fail' | 'skipped', suite: string) =>
      ({ verdict, suite }) as Parameters<typeof runVerdict>[0]['tests'][number];
    const suites = ['boot', 'wifi'];
    const none = { runError: undefined, aborted: false };
    const miss = runVerdict({ suites, tests: [t('pass', 'boot'), t('skipped', 'wifi')], ...none });
    expect(miss).to.equal('miss');
    expect(runExitCode(miss, undefined)).to.equal(4);
    // A suite none of whose tests ran at all is missed too.
    expect(runVerdict({ suites, tests: [t('pass', 'boot')], ...none })).to.equal('miss');
    expect(runVerdict({ suites, tests: [t('pass', 'boot'), t('pass', 'wifi')], ...none })).to.equal('pass');
    // After a failure the skipped suites are its consequence: the run is that failure.
    expect(runVerdict({ suites, tests: [t('fail', 'boot'), t('skipped', 'wifi')], ...none })).to.equal(
      'fail',
    );
  });
});
