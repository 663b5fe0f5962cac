import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { InputError } from '../errors.js';
import { inputFile } from '../util/input-file.js';
import { ROOT } from './root.js';

const require = createRequire(import.meta.url);

export { ROOT } from './root.js';

export const SCHEMA_DIR = path.join(ROOT, 'boards', 'schema');

let ajv: import('ajv').default | undefined;
const validators = new Map<string, ValidateFunction>();

/** A schema file under boards/schema/, or a schema composed at load time (the lab file's). */
export type SchemaSource = string | { readonly id: string; compose(): object };

/** A JSON schema file of boards/schema/. */
export function readSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
}

function validator(source: SchemaSource): ValidateFunction {
  const id = typeof source === 'string' ? source : source.id;
  let v = validators.get(id);
  if (!v) {
    // Loaded lazily: `hw-test --help` must not pay for a schema compiler.
    const Ajv = require('ajv') as typeof import('ajv').default;
    ajv ??= new Ajv({ allErrors: true, useDefaults: true, strict: false, formats: { regex: isRegex } });
    v = ajv.compile(typeof source === 'string' ? readSchema(source) : source.compose());
    validators.set(id, v);
  }
  return v;
}

function isRegex(s: string): boolean {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}

/** `/timeouts/boot` -> `timeouts.boot`; `/failurePatterns/0/pattern` -> `failurePatterns[0].pattern`. */
function fieldPath(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (missing) parts.push(missing);
  return (
    parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') ||
    '(top level)'
  );
}

function describe(e: ErrorObject): { field: string; expected: string } {
  switch (e.keyword) {
    case 'required':
      return {
        field: fieldPath(e.instancePath, (e.params as { missingProperty: string }).missingProperty),
        expected: 'is required',
      };
    case 'additionalProperties':
      return {
        field: fieldPath(e.instancePath, (e.params as { additionalProperty: string }).additionalProperty),
        expected: 'is not a known field (check its spelling)',
      };
    case 'enum':
      return {
        field: fieldPath(e.instancePath),
        expected: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'format':
      return {
        field: fieldPath(e.instancePath),
        expected: `must be a valid ${(e.params as { format: string }).format}`,
      };
    default:
      return { field: fieldPath(e.instancePath), expected: e.message ?? 'is invalid' };
  }
}

/** Parses a YAML file and validates it; bad input gets one line naming the file and the field. */
export function loadYaml<T>(file: string, schema: SchemaSource, what: string): T {
  // A directory or a named pipe is refused before the read (a pipe would block it for ever).
  if (existsSync(file)) inputFile(file, `${file}: ${what} file`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: cannot read ${what} file (${code ?? String(err)})`, { file });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0].line;
    throw new InputError(`${file}${line ? `:${line}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`, {
      file,
    });
  }
  let data: unknown;
  try {
    // An alias bomb (billion laughs) expands past maxAliasCount: refused, not a hang or a crash.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const why = /alias/i.test(String(err))
      ? 'too many aliases (an alias bomb?)'
      : String((err as Error).message);
    throw new InputError(`${file}: invalid YAML: ${why}`, { file });
  }
  const validate = validator(schema);
  if (!validate(data)) {
    // A misspelt key also makes its correct name "missing": naming the unknown key says more.
    const errors = validate.errors!;
    const first =
      errors.find((e) => e.keyword === 'additionalProperties') ??
      errors.find((e) => e.keyword !== 'if') ??
      errors[0];
    const { field, expected } = describe(first);
    throw new InputError(`${file}: ${field} ${expected}`, { file, field });
  }
  return data as T;
}
