import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = path.join(ROOT, 'dist', 'rig', 'cli', 'main.js');

/** Tests keep their own board health record: an injected rig fault must not quarantine the user's boards. */
const TEST_STATE = mkdtempSync(path.join(os.tmpdir(), 'hwt-test-state-'));
export const TEST_HEALTH = path.join(TEST_STATE, 'health.json');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a user would, in a child process. */
export function runCli(
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    onStderr?: (chunk: string) => void;
    signalAfter?: { pattern: RegExp; signal: NodeJS.Signals };
  } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, CI: 'true', HW_TEST_HEALTH: TEST_HEALTH, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      opts.onStderr?.(b.toString());
      if (opts.signalAfter && !signalled && opts.signalAfter.pattern.test(stderr)) {
        signalled = true;
        child.kill(opts.signalAfter.signal);
      }
    });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
