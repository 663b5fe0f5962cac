import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfraError, InputError } from '../../errors.js';
import { realSpawner, type Spawner } from '../../util/spawn.js';

const SCHEMA_NAME = 'jenkins-junit.xsd';

/**
 * The schema lives next to this file in the source tree; the compiled module runs from
 * dist/rig/report/junit-schema/, so look there first and then in the source tree.
 */
export async function junitSchemaPath(): Promise<string> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, SCHEMA_NAME),
    join(here, '../../../../rig/report/junit-schema', SCHEMA_NAME),
  ];
  for (const c of candidates) {
    try {
      await access(c);
      return c;
    } catch {
      // try the next place
    }
  }
  throw new InfraError(`${SCHEMA_NAME}: not found (looked in ${candidates.join(', ')})`, {
    file: SCHEMA_NAME,
  });
}

/**
 * Validates a junit.xml against the schema Jenkins' JUnit plugin reads, with xmllint
 * (Debian: libxml2-utils). Resolves when valid; rejects with an InputError quoting xmllint's
 * first complaints (file, line, element) when not.
 */
export async function validateJunit(
  file: string,
  opts: { spawner?: Spawner; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<void> {
  const schema = await junitSchemaPath();
  const spawner = opts.spawner ?? realSpawner;
  const res = await spawner.run('xmllint', ['--noout', '--nonet', '--schema', schema, file], {
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
  if (res.code === 0) return;
  const why = res.stderr
    .split('\n')
    .filter((l) => l.trim() && !/ fails to validate$/.test(l))
    .slice(0, 3)
    .join(' | ');
  // xmllint exits 3/4 for an invalid document, 1 for unparseable XML; anything else is the tool.
  if (res.code === 1 || res.code === 3 || res.code === 4) {
    throw new InputError(`${file}: not valid JUnit XML for Jenkins (${SCHEMA_NAME}): ${why}`, { file });
  }
  throw new InfraError(`xmllint: exit ${res.code ?? res.signal} validating ${file}: ${why}`, {
    file,
    tool: 'xmllint',
  });
}
