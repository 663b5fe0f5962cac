import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BoardType } from './board.js';
import { ROOT } from './root.js';
import { InputError, errorMessage } from '../errors.js';
import type { SuiteArtifact, SuiteManifest, SuiteOption } from '../suite-api/manifest.js';
import { enableUserSuites, isSuitePath, userSuiteFiles } from './user-suites.js';

/** Suites are compiled with the controller: dist/suites/<name>/*.spec.js, manifest suite.js. */
export const SUITES_DIR = path.join(ROOT, 'dist', 'suites');
const MANIFEST = 'suite.js';

/** A suite the run can load: its spec files and what it declared it needs. */
export interface SuiteEntry {
  readonly name: string;
  readonly dir: string;
  readonly files: readonly string[];
  readonly manifest: SuiteManifest;
  /** A user suite: the path given to `--suite` (absent for a built-in suite). */
  readonly path?: string;
}

export function knownSuites(): string[] {
  if (!existsSync(SUITES_DIR)) return [];
  return readdirSync(SUITES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && specFiles(path.join(SUITES_DIR, d.name)).length > 0)
    .map((d) => d.name)
    .sort();
}

function specFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.spec.js'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** The spec files of the named suites; an unknown name is bad input listing the known ones. */
export function suiteFiles(names: readonly string[]): string[] {
  return names.flatMap((name) => specFiles(suiteDir(name)));
}

function suiteDir(name: string): string {
  const known = knownSuites();
  if (!known.includes(name)) {
    throw new InputError(
      `unknown suite "${name}": suites are ${known.join(', ') || '(none built: run npm run build)'}, or a path to your own (./my-suite)`,
    );
  }
  return path.join(SUITES_DIR, name);
}

/** A suite folder's manifest (its default export); a folder without one declares no needs. */
async function loadManifest(name: string, dir: string): Promise<SuiteManifest> {
  const file = path.join(dir, MANIFEST);
  if (!existsSync(file)) return { name };
  const manifest = await importManifest(file);
  if (!isManifest(manifest) || manifest.name !== name) {
    throw new InputError(
      `${file}: the default export must be the suite's manifest (defineSuite({ name: '${name}', ... }))`,
      { file },
    );
  }
  return manifest;
}

async function importManifest(file: string): Promise<unknown> {
  try {
    return ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
  } catch (err) {
    throw new InputError(`${file}: the suite's manifest does not load: ${errorMessage(err)}`, { file });
  }
}

/** A user suite (`--suite PATH`): its specs, and its manifest when it has one (the name is then its). */
async function loadUserSuite(arg: string): Promise<SuiteEntry> {
  const found = userSuiteFiles(arg);
  enableUserSuites();
  const base = { dir: found.dir, files: found.files, path: arg };
  if (!found.manifestFile) return { ...base, name: found.defaultName, manifest: { name: found.defaultName } };
  const manifest = await importManifest(found.manifestFile);
  if (!isManifest(manifest) || manifest.name === '') {
    throw new InputError(
      `${found.manifestFile}: the default export must be the suite's manifest (export default defineSuite({ name: '${found.defaultName}', ... }) with defineSuite from hw-test/suite)`,
      { file: found.manifestFile },
    );
  }
  return { ...base, name: manifest.name, manifest };
}

function isManifest(m: unknown): m is SuiteManifest {
  return typeof m === 'object' && m !== null && 'name' in m && typeof m.name === 'string';
}

/**
 * The named suites with their manifests, in the order given: a built-in suite's name, or the path
 * of a user suite (a folder or a spec file). Two different suites of one name are bad input.
 */
export async function loadSuites(names: readonly string[]): Promise<SuiteEntry[]> {
  const entries: SuiteEntry[] = [];
  for (const name of names) {
    if (isSuitePath(name)) {
      entries.push(await loadUserSuite(name));
      continue;
    }
    const dir = suiteDir(name);
    entries.push({ name, dir, files: specFiles(dir), manifest: await loadManifest(name, dir) });
  }
  const same = (a: SuiteEntry, b: SuiteEntry) => a.files.join('\n') === b.files.join('\n');
  for (const e of entries) {
    const other = entries.find((o) => o.name === e.name && !same(o, e));
    if (other) {
      throw new InputError(
        `--suite: two suites are named "${e.name}" (${e.path ?? e.name} and ${other.path ?? other.name}): rename one in its manifest`,
      );
    }
  }
  // A suite named twice (by its name and its path, or its folder and its only file) runs once.
  return entries.filter((e, i) => entries.findIndex((o) => same(o, e)) === i);
}

/** Every built-in suite, with its manifest. */
export function builtinSuites(): Promise<SuiteEntry[]> {
  return loadSuites(knownSuites());
}

/** Suite names in report order: by each manifest's `order`, then by name. */
export function reportOrder(suites: readonly SuiteEntry[]): string[] {
  const rank = (s: SuiteEntry) => s.manifest.order ?? Number.MAX_SAFE_INTEGER;
  return [...suites].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name)).map((s) => s.name);
}

/** The suites run when `--suite` is not given, or by a health check. */
export function suitesFor(role: 'default' | 'healthCheck', suites: readonly SuiteEntry[]): string[] {
  return suites.filter((s) => s.manifest[role] === true).map((s) => s.name);
}

/** The command-line options the suites take, each with the suite that declared it. */
export function suiteOptions(suites: readonly SuiteEntry[]): (SuiteOption & { suite: string })[] {
  return suites.flatMap((s) => (s.manifest.options ?? []).map((o) => ({ ...o, suite: s.name })));
}

/** What the selected suites need from the run. */
export interface SuiteNeeds {
  /** A network the rig reaches the board on. */
  network: boolean;
  /** The rig's access point, for a board that has what the suites asking for it need. */
  accessPoint: boolean;
  /** Artifacts to prepare, once each, in the order the suites list them. */
  artifacts: SuiteArtifact[];
}

/** The board capabilities a suite needs and the board lacks (empty: it has them all). */
export function missingCapabilities(manifest: SuiteManifest, type: BoardType): string[] {
  const has = new Set<string>(type.capabilities);
  return (manifest.capabilities ?? []).filter((c) => !has.has(c));
}

export function suiteNeeds(suites: readonly SuiteEntry[], type: BoardType): SuiteNeeds {
  const manifests = suites.map((s) => s.manifest);
  const artifacts = new Map<string, SuiteArtifact>();
  for (const a of manifests.flatMap((m) => m.artifacts ?? []))
    if (!artifacts.has(a.name)) artifacts.set(a.name, a);
  return {
    network: manifests.some((m) => m.network === true),
    accessPoint: manifests.some((m) => m.accessPoint === true && missingCapabilities(m, type).length === 0),
    artifacts: [...artifacts.values()],
  };
}
