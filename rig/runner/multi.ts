import { InputError } from '../errors.js';
import { boardNames, loadBoard } from '../catalog/board.js';
import { resolveBoard, type ResolvedBoard } from './board-factory.js';

/** `--board a,b,c` or `--board all`: every board wired on this host (the lab file's instances). */
export async function resolveBoards(arg: string, labFile: string | undefined): Promise<ResolvedBoard[]> {
  const names = arg
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === 'all') {
    if (!labFile) {
      // Without a lab file, "all" is every virtual board: they need no wiring.
      return boardNames()
        .map((n) => loadBoard(n))
        .filter((t) => t.virtual)
        .map((t) => ({ name: t.name, type: t }));
    }
    const { loadLab, allInstances } = await import('../catalog/lab.js');
    const lab = loadLab(labFile);
    return Promise.all(allInstances(lab).map((i) => resolveBoard(i.name, labFile, lab)));
  }
  if (new Set(names).size !== names.length) throw new InputError(`--board ${arg}: a board is named twice`);
  // The lab file is parsed once for all the boards named.
  const lab = labFile ? (await import('../catalog/lab.js')).loadLab(labFile) : undefined;
  return Promise.all(names.map((n) => resolveBoard(n, labFile, lab)));
}

export interface ChildRun {
  board: string;
  code: number | null;
  /** The child's run folder (it names it in the file $HW_TEST_RUN_DIR_FILE): not `latest`, which a
   * refused run leaves on the board's last tested run. */
  runDir?: string;
}

/** A child run tells its parent where its report is. */
export async function tellRunDir(env: NodeJS.ProcessEnv, runDir: string): Promise<void> {
  if (!env.HW_TEST_RUN_DIR_FILE) return;
  const { writeFile } = await import('node:fs/promises');
  await writeFile(env.HW_TEST_RUN_DIR_FILE, runDir);
}

/**
 * Several boards run as one child process each (like test workers): mocha and the suites'
 * fixture are per process, and one board's crash cannot take the others down. A SIGTERM or
 * SIGINT to the parent is passed on, so every child powers off and reports.
 */
export async function runChildren(
  boards: string[],
  argv: string[],
  opts: { parallel: number; signal: AbortSignal; err: (line: string) => void },
): Promise<ChildRun[]> {
  const { spawn } = await import('node:child_process');
  const { mkdtemp, readFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  // Each child names its run folder in a file of its own here.
  const told = await mkdtemp(path.join(tmpdir(), 'hw-test-children-'));
  let started = 0;
  const queue = [...boards];
  const results: ChildRun[] = [];
  const running = new Set<import('node:child_process').ChildProcess>();
  const onAbort = () => {
    for (const c of running) c.kill('SIGTERM');
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const worker = async () => {
    for (let b = queue.shift(); b && !opts.signal.aborted; b = queue.shift()) {
      const board = b;
      const tellFile = path.join(told, String(started++));
      const child = spawn(process.execPath, [process.argv[1], ...argv, '--board', board, '--parallel', '1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HW_TEST_CHILD: '1', HW_TEST_RUN_DIR_FILE: tellFile },
      });
      running.add(child);
      const relay = (stream: NodeJS.ReadableStream) => {
        let rest = '';
        stream.on('data', (d: Buffer) => {
          const lines = (rest + d.toString()).split('\n');
          rest = lines.pop() ?? '';
          for (const l of lines) opts.err(l.startsWith(board) ? l : `${board}: ${l}`);
        });
      };
      relay(child.stdout);
      relay(child.stderr);
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      running.delete(child);
      const runDir = await readFile(tellFile, 'utf8').catch(() => undefined);
      results.push({ board, code, runDir });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.parallel, boards.length) }, worker));
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    await rm(told, { recursive: true, force: true });
  }
  return results;
}
