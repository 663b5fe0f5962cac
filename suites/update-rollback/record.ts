import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { errorMessage, type SuiteContext } from '../fixture.js';
import {
  dutRunner,
  fileSha256,
  formatState,
  type BoardState,
  type CommandRunner,
} from '../../rig/update/board-state.js';
import { formatLog, splitBoots } from '../../rig/update/boots.js';
import { sha256Of } from '../../rig/update/bundle.js';
import { LogTail } from '../../rig/update/log-tail.js';
import type { UpdateMarkers } from '../../rig/update/settings.js';
import type { UpdateFlow } from '../../rig/update/update-flow.js';

/**
 * What each test of the suite leaves in its report: the serial log of every boot it went
 * through, and the bootloader variables (with slot, version and breadcrumbs) before and after.
 */
export class TestRecord {
  readonly tail: LogTail;
  before?: BoardState;
  after?: BoardState;
  readonly notes: string[] = [];

  constructor(private readonly r: Pick<SuiteContext, 'console' | 'attach'>) {
    this.tail = new LogTail(r.console);
  }

  note(line: string): void {
    this.notes.push(line);
  }

  attachAll(markers: Pick<UpdateMarkers, 'bootAttempt' | 'reset'>, failure?: string): void {
    const boots = splitBoots(this.tail.seen, markers);
    boots.forEach((lines, i) =>
      this.r.attach(`serial log, boot ${i + 1} of ${boots.length}`, formatLog(lines)),
    );
    const state = (s: BoardState | undefined) =>
      s ? `${formatState(s)}\n\n${JSON.stringify(s.bootenv, null, 2)}\n` : undefined;
    this.r.attach(
      'bootloader variables before',
      state(this.before) ?? 'not read: the test stopped before reading them\n',
    );
    this.r.attach(
      'bootloader variables after',
      state(this.after) ??
        `not read: ${failure ? `the test failed first: ${failure}` : 'the test stopped before reading them'}\n`,
    );
    if (this.notes.length) this.r.attach('update-rollback notes', this.notes.join('\n') + '\n');
  }
}

/** A file on the data partition, written before the first update and checked after each one. */
export interface DataFile {
  path: string;
  sha256: string;
}

const DATA_BYTES = 256 * 1024;

export async function writeDataFile(flow: UpdateFlow): Promise<DataFile> {
  const content = randomBytes(DATA_BYTES);
  const file = path.posix.join(flow.settings.dataDir, 'hw-test-update-check.bin');
  const dut = await flow.connect();
  try {
    await dut.put(content, file, { signal: flow.r.signal });
    // The file must be on the disk, not in the page cache, before any power cut.
    await dut.exec('sync', { timeoutMs: flow.ms.command, signal: flow.r.signal });
    const onBoard = await fileSha256(dutRunner(dut), flow.r.os, file, {
      timeoutMs: flow.ms.command,
      signal: flow.r.signal,
    });
    const sha256 = sha256Of(content);
    if (onBoard !== sha256)
      throw new Error(`the data file ${file} reads back as ${onBoard}, written ${sha256}`);
    return { path: file, sha256 };
  } finally {
    await dut.close();
  }
}

/** Problems with the data file, empty when it is intact. */
export async function dataFileProblems(
  flow: UpdateFlow,
  runner: CommandRunner,
  data: DataFile,
): Promise<string[]> {
  try {
    const got = await fileSha256(runner, flow.r.os, data.path, {
      timeoutMs: flow.ms.command,
      signal: flow.r.signal,
    });
    return got === data.sha256
      ? []
      : [`the data file ${data.path} changed: sha256 ${got}, written ${data.sha256}`];
  } catch (err) {
    return [`the data file ${data.path} cannot be read: ${errorMessage(err)}`];
  }
}
