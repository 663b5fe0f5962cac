import { loadAllBoards } from '../catalog/board.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import type { CliCommand, CliIo } from './io.js';

export const OPTIONS = [
  {
    name: 'lab',
    value: 'FILE',
    description: 'the lab wiring file: which real boards are wired here (default: $HW_TEST_LAB)',
  },
  { name: 'json', description: 'one JSON array instead of the table' },
] as const satisfies OptionTable;

async function main(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions('boards', argv, OPTIONS);
  const boards = loadAllBoards();
  const labFile = values.lab ?? io.env.HW_TEST_LAB;
  const wired = new Map<string, string[]>();
  if (labFile) {
    const { loadLab, allInstances } = await import('../catalog/lab.js');
    for (const i of allInstances(loadLab(labFile))) wired.set(i.type, [...(wired.get(i.type) ?? []), i.name]);
  }
  const rows = boards.map((b) => ({
    name: b.name,
    arch: b.arch,
    capabilities: b.capabilities.join(','),
    here: b.virtual ? 'virtual' : wired.has(b.name) ? `wired: ${wired.get(b.name)!.join(', ')}` : 'not wired',
  }));
  if (values.json) {
    io.out(JSON.stringify(rows, null, 2));
    return 0;
  }
  const head = { name: 'BOARD', arch: 'ARCH', capabilities: 'CAPABILITIES', here: 'ON THIS HOST' };
  const w = (k: keyof typeof head) => Math.max(head[k].length, ...rows.map((r) => r[k].length));
  for (const r of [head, ...rows]) {
    io.out(
      `${r.name.padEnd(w('name'))}  ${r.arch.padEnd(w('arch'))}  ${r.capabilities.padEnd(w('capabilities'))}  ${r.here}`,
    );
  }
  if (!labFile)
    io.out('\n(no lab file: pass --lab FILE or set HW_TEST_LAB to see which real boards are wired here)');
  return 0;
}

export const command: CliCommand = {
  summary: 'list the board types and whether they are wired on this host',
  usage: helpText({ synopsis: 'Usage: hw-test boards [--lab FILE] [--json]', options: OPTIONS }),
  main,
};
