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
    return Promise.all(allInstances(loadLab(labFile)).map((i) => resolveBoard(i.name, labFile)));
  }
  if (new Set(names).size !== names.length) throw new InputError(`--board ${arg}: a board is named twice`);
  return Promise.all(names.map((n) => resolveBoard(n, labFile)));
}
