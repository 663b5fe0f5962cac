/**
 * Module customization hooks for user suites (`--suite PATH`), run in Node's loader thread
 * (registered by ./user-suites.ts with `module.register`). A suite outside this repository has no
 * node_modules/hw-test and may be TypeScript; these hooks let it run as written, with no build:
 *
 * - `hw-test/suite` is this installation's fixture API, the very module the runner sets the
 *   board context on (a second copy would have no board);
 * - a bare import the suite's folder cannot resolve (`chai`) is resolved from hw-test's own
 *   dependencies;
 * - `.ts`/`.mts` files are transpiled with this package's `typescript` (no type check: the
 *   editor does that), with an inline source map so that stack traces name the .ts lines; a
 *   relative `./x.js` import finds `./x.ts`, as `tsc` with NodeNext expects;
 * - a `.js` file outside any node_modules is an ES module unless its package.json says
 *   `"type": "commonjs"` (a suite folder usually has no package.json at all).
 *
 * Everything else goes to Node's own resolution and loading unchanged.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SuiteHookData {
  /** file: URL of the fixture API module (dist/rig/suite-api/index.js). */
  api: string;
  /** file: URL of hw-test's package root, with a trailing slash. */
  root: string;
}

interface ResolveContext {
  parentURL?: string;
  conditions?: string[];
  importAttributes?: Record<string, string>;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<ResolveResult>;
interface LoadContext {
  format?: string | null;
  conditions?: string[];
  importAttributes?: Record<string, string>;
}
interface LoadResult {
  format: string;
  source?: string | ArrayBuffer | Uint8Array | null;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context?: LoadContext) => Promise<LoadResult>;

let data: SuiteHookData = { api: '', root: '' };

export function initialize(d: SuiteHookData): void {
  data = d;
}

const API = 'hw-test/suite';

function isOwnCode(url: string | undefined): boolean {
  return url === undefined || !url.startsWith('file:') || url.includes('/node_modules/');
}

export async function resolve(
  specifier: string,
  context: ResolveContext,
  nextResolve: NextResolve,
): Promise<ResolveResult> {
  if (specifier === API) return { url: data.api, format: 'module', shortCircuit: true };
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || isOwnCode(context.parentURL)) throw err;
    const found = await alternative(specifier, context, nextResolve);
    if (found) return found;
    throw err;
  }
}

/** What a user's file meant: a TypeScript sibling of a relative import, or one of hw-test's packages. */
async function alternative(
  specifier: string,
  context: ResolveContext,
  nextResolve: NextResolve,
): Promise<ResolveResult | undefined> {
  const relative = /^\.\.?\//.test(specifier);
  const candidates = relative ? tsCandidates(specifier) : [specifier];
  const ctx = relative ? context : { ...context, parentURL: new URL('package.json', data.root).href };
  for (const c of candidates) {
    try {
      return await nextResolve(c, ctx);
    } catch {
      // the next candidate
    }
  }
  return undefined;
}

function tsCandidates(specifier: string): string[] {
  if (specifier.endsWith('.js')) return [specifier.replace(/\.js$/, '.ts')];
  if (specifier.endsWith('.mjs')) return [specifier.replace(/\.mjs$/, '.mts')];
  if (path.extname(specifier) === '') {
    return ['.ts', '.mts', '.js', '.mjs', '/index.ts', '/index.js'].map((e) => specifier + e);
  }
  return [];
}

export async function load(url: string, context: LoadContext, nextLoad: NextLoad): Promise<LoadResult> {
  if (isOwnCode(url)) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const ext = path.extname(file);
  if (ext === '.ts' || ext === '.mts') {
    return { format: 'module', source: await transpile(file), shortCircuit: true };
  }
  if (ext === '.cts' || ext === '.cjs') {
    throw new Error(
      `${file}: a CommonJS module; suites are ES modules (.ts, .mts, .mjs, or .js outside a "type": "commonjs" package)`,
    );
  }
  if (ext === '.js' && !url.startsWith(data.root) && packageType(path.dirname(file)) !== 'commonjs') {
    return nextLoad(url, { ...context, format: 'module' });
  }
  return nextLoad(url, context);
}

const packageTypes = new Map<string, string | undefined>();

/** The `type` of the nearest package.json above `dir` (undefined: none says). */
function packageType(dir: string): string | undefined {
  if (packageTypes.has(dir)) return packageTypes.get(dir);
  let type: string | undefined;
  const pkg = path.join(dir, 'package.json');
  if (existsSync(pkg)) {
    try {
      type = (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type;
    } catch {
      type = undefined;
    }
  } else if (path.dirname(dir) !== dir) {
    type = packageType(path.dirname(dir));
  }
  packageTypes.set(dir, type);
  return type;
}

type Ts = typeof import('typescript');
let ts: Ts | undefined;

/** TypeScript to JavaScript, one file at a time (types are erased, not checked). */
async function transpile(file: string): Promise<string> {
  ts ??= ((await import('typescript')) as { default: Ts }).default;
  const source = await readFile(file, 'utf8');
  const out = ts.transpileModule(source, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      inlineSourceMap: true,
      inlineSources: true,
      esModuleInterop: true,
      useDefineForClassFields: true,
    },
  });
  const error = out.diagnostics?.find((d) => d.category === ts!.DiagnosticCategory.Error);
  if (error) {
    const at =
      error.file && error.start !== undefined
        ? error.file.getLineAndCharacterOfPosition(error.start)
        : undefined;
    const where = at ? `${file}:${at.line + 1}:${at.character + 1}` : file;
    throw new SyntaxError(`${where}: ${ts.flattenDiagnosticMessageText(error.messageText, ' ')}`);
  }
  return out.outputText;
}
