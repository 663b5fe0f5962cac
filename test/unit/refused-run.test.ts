import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InfraError, InputError } from '../../rig/errors.js';
import type { RunBase } from '../../rig/runner/context.js';
import { Multiplexer } from '../../rig/runner/events.js';
import { finishRun } from '../../rig/runner/finish.js';

/** A run's base as finishRun reads it: board `b`, its run folder under a fresh reports folder. */
function base(runId: string, facts: Partial<RunBase['facts']>, reports: string): RunBase {
  const runDir = path.join(reports, 'b', runId);
  mkdirSync(runDir, { recursive: true });
  return {
    board: { name: 'b', type: { name: 't' } },
    opts: { signal: new AbortController().signal, suites: ['boot'], reproduce: 'r' },
    suites: [{ name: 'boot' }],
    runDir,
    events: new Multiplexer([]),
    facts: { tests: [], quarantined: false, ...facts },
  } as unknown as RunBase;
}

/** An opened board, as far as the report reads it. */
const opened = { steps: [], console: { findings: [] } } as unknown as RunBase['facts']['instance'];

describe('a refused run keeps reports/<board>/latest on the last run that tested the board', function () {
  let reports: string;
  const latest = () => readlinkSync(path.join(reports, 'b', 'latest'));
  const end = (runId: string, runError: unknown) => ({ runId, started: new Date(), steps: [], runError });

  beforeEach(() => {
    reports = mkdtempSync(path.join(os.tmpdir(), 'hwt-refused-'));
  });

  it('a run that reached the board moves latest, even when it ended in a rig fault', async () => {
    await finishRun(base('r1', { instance: opened }, reports), end('r1', new InfraError('mux')));
    expect(latest()).to.equal('r1');
  });

  for (const [why, facts, err] of [
    ['busy', {}, new InfraError('board b is busy', { boardFault: false })],
    ['quarantined', { quarantined: true }, new InfraError('b is quarantined since ...')],
    ['bad input found in prepare', {}, new InputError('the run needs an update bundle')],
  ] as const) {
    it(`${why}: its report is written, latest does not move`, async () => {
      mkdirSync(path.join(reports, 'b'), { recursive: true });
      symlinkSync('r0', path.join(reports, 'b', 'latest'));
      const s = await finishRun(base('r2', facts, reports), end('r2', err));
      expect(latest()).to.equal('r0');
      expect(existsSync(path.join(reports, 'b', 'r2', 'summary.json'))).to.equal(true);
      const written = JSON.parse(readFileSync(path.join(reports, 'b', 'r2', 'summary.json'), 'utf8')) as {
        verdict: string;
      };
      expect(written.verdict).to.equal(s.verdict);
    });
  }

  it('a rig fault before the board was opened (a network that would not come up) still moves latest', async () => {
    await finishRun(base('r3', {}, reports), end('r3', new InfraError('dnsmasq exited')));
    expect(latest()).to.equal('r3');
  });
});
