import path from 'node:path';
import { loadBoard, type BoardType } from '../catalog/board.js';
import type { Lab, LabInstance } from '../catalog/lab.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { BoardInstance } from '../board/board.js';
import { InputError } from '../errors.js';
import { cacheRoot } from '../image/build.js';

export interface ResolvedBoard {
  /** Instance name: a lab instance (`odroid-xu4-2`) or the virtual board type's name. */
  name: string;
  type: BoardType;
  /** The lab file that wires it, when it is real hardware (or a virtual rig). */
  labFile?: string;
  /** That lab file, parsed once for the whole run, and the board's entry in it. */
  wiring?: { lab: Lab; instance: LabInstance };
}

/**
 * `--board NAME`: a lab instance when the lab file has one of that name (or of that type), else a
 * virtual board type. A real board type with no wiring on this host is bad input: exit 2, naming
 * the lab file and pointing to the wiring documentation. `lab`: the lab file, already parsed.
 */
export async function resolveBoard(
  arg: string,
  labFile: string | undefined,
  lab?: Lab,
): Promise<ResolvedBoard> {
  if (labFile) {
    const { loadLab, findInstance } = await import('../catalog/lab.js');
    const parsed = lab ?? loadLab(labFile);
    try {
      const instance = findInstance(parsed, arg);
      return {
        name: instance.name,
        type: loadBoard(instance.type),
        labFile,
        wiring: { lab: parsed, instance },
      };
    } catch (err) {
      // Not wired here: a virtual board type still runs without wiring.
      const type = tryVirtual(arg);
      if (type) return { name: type.name, type };
      throw err;
    }
  }
  const type = loadBoard(arg);
  if (!type.virtual) {
    throw new InputError(
      `board ${arg} is real hardware but no lab file says how it is wired on this host: pass --lab FILE or set HW_TEST_LAB (see docs/wiring.md)`,
      { board: arg },
    );
  }
  return { name: type.name, type };
}

function tryVirtual(name: string): BoardType | undefined {
  try {
    const t = loadBoard(name);
    return t.virtual ? t : undefined;
  } catch {
    return undefined;
  }
}

export interface OpenBoardOptions {
  os: OsProfile;
  netArgs?: string[];
  wrapper?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Composes the drivers of the board: QEMU for a virtual board, the lab's wiring for a real one. */
export async function openBoard(b: ResolvedBoard, opts: OpenBoardOptions): Promise<BoardInstance> {
  if (b.wiring) {
    const { createLabBoard } = await import('../lab/lab-board.js');
    return createLabBoard(b.wiring.lab, b.name, {
      os: opts.os,
      netArgs: opts.netArgs,
      wrapper: opts.wrapper,
      type: b.type,
    });
  }
  const { createVirtualBoard } = await import('../board/virtual-board.js');
  return createVirtualBoard({
    type: b.type,
    os: opts.os,
    disk: path.join(cacheRoot(opts.env), 'boards', b.name, 'sd.img'),
    netArgs: opts.netArgs,
    wrapper: opts.wrapper,
  });
}
