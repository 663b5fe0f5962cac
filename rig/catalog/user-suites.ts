import { existsSync, readdirSync, statSync } from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError } from '../errors.js';
import { ROOT } from './root.js';
import type { SuiteHookData } from './suite-hooks.js';

/**
 * User suites: `--suite PATH`, a folder or a file of mocha specs outside this repository, in
 * JavaScript or TypeScript, with an optional manifest beside the specs (docs/user-suites.md).
 */

/** Spec files in a suite folder (searched below it too, node_modules and dot folders aside). */
const SPEC = /\.spec\.(ts|mts|js|mjs)$/;
/** A file named on the command line is a spec whatever its name, if it is an ES module. */
const MODULE = /\.(ts|mts|js|mjs)$/;
/** The manifest beside the specs, first found. */
export const USER_MANIFESTS = ['suite.ts', 'suite.mts', 'suite.js', 'suite.mjs'];

/** A `--suite` entry that is a path, not a built-in suite's name: it has a slash or a module's extension. */
export function isSuitePath(arg: string): boolean {
  return arg.includes('/') || /\.(m|c)?(t|j)s$/.test(arg);
}

export interface UserSuiteFiles {
  /** The suite's name unless its manifest gives one: the folder's, or the file's without `.spec.ts`. */
  defaultName: string;
  dir: string;
  files: string[];
  manifestFile?: string;
}

/** Where a user suite's files are; a path that holds no suite is bad input naming it. */
export function userSuiteFiles(arg: string, cwd = process.cwd()): UserSuiteFiles {
  const abs = path.resolve(cwd, arg);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new InputError(`--suite ${arg}: no such file or folder (${abs})`, { file: abs });
  }
  if (st.isDirectory()) {
    const files = findSpecs(abs);
    if (files.length === 0) {
      throw new InputError(
        `--suite ${arg}: no spec files in ${abs} (expected *.spec.ts, *.spec.mts, *.spec.js or *.spec.mjs)`,
        { file: abs },
      );
    }
    return { defaultName: path.basename(abs), dir: abs, files, manifestFile: manifestIn(abs) };
  }
  if (/\.c(j|t)s$/.test(abs)) {
    throw new InputError(`--suite ${arg}: a CommonJS file; suites are ES modules (.ts, .mts, .mjs, or .js)`, {
      file: abs,
    });
  }
  if (!st.isFile() || !MODULE.test(abs)) {
    throw new InputError(`--suite ${arg}: not a suite folder or a .ts, .mts, .js or .mjs spec file`, {
      file: abs,
    });
  }
  const dir = path.dirname(abs);
  const defaultName = path.basename(abs).replace(SPEC, '').replace(MODULE, '');
  return { defaultName, dir, files: [abs], manifestFile: manifestIn(dir) };
}

function manifestIn(dir: string): string | undefined {
  return USER_MANIFESTS.map((m) => path.join(dir, m)).find((f) => existsSync(f));
}

function findSpecs(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (SPEC.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

let hooked = false;

/**
 * Lets this process import user suites (./suite-hooks.ts): `hw-test/suite` resolves to this
 * installation's fixture API, TypeScript is transpiled, hw-test's own packages are found. Once
 * per process; stack traces of TypeScript suites point to their .ts lines.
 */
export function enableUserSuites(): void {
  if (hooked) return;
  hooked = true;
  const data: SuiteHookData = {
    api: new URL('../suite-api/index.js', import.meta.url).href,
    root: pathToFileURL(`${ROOT}${path.sep}`).href,
  };
  register(new URL('./suite-hooks.js', import.meta.url), { data });
  process.setSourceMapsEnabled(true);
}
