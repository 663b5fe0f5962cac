import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from '../../rig/catalog/schema.js';

const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const MAX_LINES = 80;

function depcruise(cwd: string, dirs: string[]) {
  return spawnSync(DEPCRUISE, [...dirs, '--config', CONFIG, '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
  });
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Functions longer than `max` lines, blank and comment-only lines not counted (as eslint counts). */
function longFunctions(file: string, text: string, max: number): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const lines = text.split('\n');
  const counted = (from: number, to: number) =>
    lines.slice(from, to + 1).filter((l) => {
      const t = l.trim();
      return t !== '' && !t.startsWith('//') && !t.startsWith('*') && !t.startsWith('/*');
    }).length;
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const from = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const to = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const n = counted(from, to);
      if (n > max) found.push(`${path.relative(ROOT, file)}:${from + 1} (${n} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('architecture: what lint also checks, so that CI fails on it', function () {
  this.timeout(60_000);

  it('dependency-cruiser: rig/ never imports suites/, no import cycles, suites use interfaces', function () {
    const r = depcruise(ROOT, ['rig', 'suites']);
    expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
  });

  it('the dependency check fails on a rig file importing a suite, and on a cycle', function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-arch-'));
    try {
      mkdirSync(path.join(dir, 'rig'));
      mkdirSync(path.join(dir, 'suites'));
      writeFileSync(
        path.join(dir, 'rig', 'a.ts'),
        "import { b } from '../suites/b.js';\nexport const a = b;\n",
      );
      writeFileSync(
        path.join(dir, 'suites', 'b.ts'),
        "import type { a } from '../rig/a.js';\nexport const b: typeof a = 1;\n",
      );
      writeFileSync(path.join(dir, 'tsconfig.json'), readFileSync(path.join(ROOT, 'tsconfig.json')));
      const r = depcruise(dir, ['rig', 'suites']);
      expect(r.status).to.not.equal(0);
      expect(r.stdout).to.contain('rig-not-to-suites').and.contain('no-circular');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`no function in rig/ is over ${MAX_LINES} lines`, function () {
    const long = tsFiles(path.join(ROOT, 'rig')).flatMap((f) =>
      longFunctions(f, readFileSync(f, 'utf8'), MAX_LINES),
    );
    expect(long, long.join('\n')).to.deep.equal([]);
  });

  it('the function length check finds an 81-line function', function () {
    const body = Array.from({ length: MAX_LINES - 2 }, (_, i) => `  const x${i} = ${i};`).join('\n');
    expect(longFunctions('x.ts', `export function f() {\n${body}\n}\n`, MAX_LINES)).to.have.length(0);
    expect(
      longFunctions('x.ts', `export function f() {\n${body}\n  return 1;\n}\n`, MAX_LINES),
    ).to.have.length(1);
  });
});
