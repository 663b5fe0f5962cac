import { expect } from 'chai';
import type { FlashProgress } from '../../rig/flash/flasher.js';
import { ProgressMeter } from '../../rig/flash/progress.js';
import { progressView } from '../../rig/cli/progress.js';

describe('flash: progress events', function () {
  it('emits at most 4 events a second whatever the write rate, plus a final one', function () {
    let t = 0;
    const events: { at: number; p: FlashProgress }[] = [];
    const meter = new ProgressMeter(
      'write',
      100e6,
      (p) => events.push({ at: t, p }),
      () => t,
    );
    // 10 s of 1 MB writes every 10 ms: 1000 calls.
    for (let i = 0; i < 1000; i++) {
      t += 10;
      meter.add(100e3);
    }
    meter.finish();
    expect(events.length).to.be.within(30, 41);
    for (let i = 1; i < events.length - 1; i++) expect(events[i].at - events[i - 1].at).to.be.at.least(250);
    const last = events.at(-1)!.p;
    expect(last.bytes).to.equal(100e6);
    expect(last.etaSeconds).to.equal(0);
    const mid = events[10].p;
    expect(mid.rate).to.be.closeTo(10e6, 1e5); // 100 kB per 10 ms
    expect(mid.etaSeconds).to.be.closeTo((100e6 - mid.bytes) / 10e6, 0.1);
  });

  it('says nothing when nobody listens', function () {
    const meter = new ProgressMeter('verify', 10, undefined);
    meter.add(10);
    meter.finish();
    expect(meter.bytes).to.equal(10);
  });
});

describe('cli: progress rendering', function () {
  const p = (bytes: number, phase = 'write'): FlashProgress & { phase: 'write' | 'verify' } => ({
    phase: phase as 'write',
    bytes,
    total: 1000e6,
    rate: 20e6,
    etaSeconds: (1000e6 - bytes) / 20e6,
  });

  it('redraws one bar in place on a TTY', function () {
    const lines: string[] = [];
    const view = progressView({ err: (l) => lines.push(l), interactive: true }, 'flash');
    view.update(p(0));
    view.update(p(500e6));
    expect(lines).to.have.length(2);
    expect(lines[0]).to.not.include('\x1b[1A');
    expect(lines[1]).to.match(
      // eslint-disable-next-line no-control-regex -- the escape codes are what is tested
      /^\x1b\[1A\x1b\[2Kflash write +\[#{15}\.{15}\] +50% 500\.0 MB 20\.0 MB\/s eta 0:25$/,
    );
  });

  it('writes plain lines, one per 10% step and phase, when not interactive (CI=true or a pipe)', function () {
    const lines: string[] = [];
    const view = progressView({ err: (l) => lines.push(l), interactive: false }, 'flash');
    for (let b = 0; b <= 1000e6; b += 10e6) view.update(p(b));
    view.done();
    view.update(p(1000e6, 'verify'));
    expect(lines).to.have.length(12);
    expect(lines.every((l) => !l.includes('\x1b'))).to.equal(true);
    expect(lines[5]).to.equal('flash write   50% 500.0 MB/1.00 GB 20.0 MB/s eta 0:25');
    expect(lines[11]).to.match(/^flash verify 100% /);
  });
});
