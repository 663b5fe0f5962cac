import { expect } from 'chai';
import { FailError, InfraError } from '../../rig/errors.js';
import { Multiplexer } from '../../rig/runner/events.js';
import { TaskList, TaskRunner, type Task } from '../../rig/runner/task-runner.js';
import { runVerdict } from '../../rig/runner/verdict.js';
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
    const t = (verdict: 'pass' | 'fail' | 'skipped') =>
      ({ verdict }) as Parameters<typeof runVerdict>[0]['tests'][number];
    expect(runVerdict({ tests: [t('pass'), t('skipped')], runError: undefined, aborted: false })).to.equal(
      'pass',
    );
    expect(runVerdict({ tests: [t('pass'), t('fail')], runError: undefined, aborted: false })).to.equal(
      'fail',
    );
    expect(runVerdict({ tests: [], runError: undefined, aborted: false })).to.equal('error');
    expect(runVerdict({ tests: [], runError: new InfraError('mux'), aborted: false })).to.equal('infra');
    expect(runVerdict({ tests: [t('pass')], runError: undefined, aborted: true })).to.equal('interrupted');
  });
});
