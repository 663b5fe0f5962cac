import { expect } from 'chai';
import { combinedRows, combinedTable } from '../../rig/report/combined.js';
import type { RunSummary, TestResult } from '../../rig/report/model.js';

const test = (suite: string, verdict: TestResult['verdict']): TestResult => ({
  suite,
  title: `${suite} ${verdict}`,
  fullTitle: `${suite} ${verdict}`,
  verdict,
  durationMs: 1,
  attachments: [],
  startedAt: '2026-11-25T00:00:00Z',
});

function summary(board: string, tests: TestResult[], verdict: RunSummary['verdict']): RunSummary {
  return {
    schema: 1,
    runId: `r-${board}`,
    board,
    boardType: board,
    host: 'h',
    startedAt: '',
    finishedAt: '',
    durationMs: 1,
    verdict,
    exitCode: 0,
    image: { path: 'i' },
    suites: ['boot', 'network', 'wifi'],
    tests,
    steps: [],
    stages: [],
    bootMs: 12_345,
    findings: [],
    reproduce: '',
  };
}

describe('combined board x suite table', function () {
  it('shows a suite whose every test skipped as miss (or skipped after a failure), never as a pass', function () {
    const rows = combinedRows(
      [
        summary(
          'a',
          [test('boot', 'pass'), test('network', 'pass'), test('wifi', 'skipped'), test('wifi', 'skipped')],
          'pass',
        ),
        summary(
          'b',
          [
            test('boot', 'pass'),
            test('network', 'fail'),
            test('network', 'skipped'),
            test('wifi', 'skipped'),
          ],
          'fail',
        ),
      ],
      '/r',
    );
    expect(rows[0].suites).to.deep.equal({ boot: 'pass', network: 'pass', wifi: 'miss' });
    expect(rows[1].suites).to.deep.equal({ boot: 'pass', network: 'fail', wifi: 'skipped' });
    const table = combinedTable(rows, ['boot', 'network', 'wifi']);
    expect(table[1]).to.match(/^a\s+pass\s+pass\s+miss\s+12\.3 s\s+-\s+PASS$/);
    expect(table[2]).to.match(/^b\s+pass\s+fail\s+skipped\s+12\.3 s\s+-\s+FAIL$/);
  });
});
