import { rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InfraError, InputError } from '../errors.js';
import { maskDeep } from '../log.js';
import { junitXml } from './junit.js';
import { mkdirs } from '../util/mkdirs.js';
import { missedSuites } from './miss.js';
import type { RunSummary } from './model.js';

/** Writes a file whole or not at all: a full disk must not leave a half summary behind. */
export async function writeAtomic(file: string, content: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, content);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new InfraError(
      `cannot write report file ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}

export async function createRunDir(reportsDir: string, board: string, runId: string): Promise<string> {
  const dir = path.join(reportsDir, board, runId);
  // Not mkdir's recursive option: it spins for ever under /proc (rig/util/mkdirs.ts).
  await mkdirs(dir).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`cannot create the report folder ${dir} (${err.code ?? err.message})`, {
      file: dir,
    });
  });
  return dir;
}

/**
 * summary.json, junit.xml, and the `latest` link to this run (not for a run that was refused before
 * it reached the board: `latest` stays on the last run that tested it). Secrets are masked in every file.
 */
export async function writeRunReports(
  runDir: string,
  run: RunSummary,
  o: { latest?: boolean } = {},
): Promise<void> {
  // Which requested suites tested nothing, and why: said in summary.json, not left to the reader.
  const missed = missedSuites(run);
  const summary = missed.length ? { ...run, missed } : run;
  // Masked before serialising: JSON escaping (a quote, a newline in a key) would hide a secret.
  await writeAtomic(path.join(runDir, 'summary.json'), `${JSON.stringify(maskDeep(summary), null, 2)}\n`);
  await writeAtomic(path.join(runDir, 'junit.xml'), junitXml(summary));
  if (o.latest === false) return;
  const latest = path.join(path.dirname(runDir), 'latest');
  const tmp = `${latest}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  await symlink(path.basename(runDir), tmp);
  await rename(tmp, latest);
}
