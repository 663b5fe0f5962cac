import { readdirSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { ROOT, loadYaml } from './schema.js';
import type { FailurePattern } from '../console/console.js';

export type Capability = 'ethernet' | 'wifi' | 'update' | 'usb' | 'bluetooth';

/** A board *type* (boards/<name>.yaml). Timeouts are in seconds, as in the YAML. */
export interface BoardType {
  name: string;
  description: string;
  vendorDocs?: string;
  arch: 'x86_64' | 'armv7' | 'aarch64';
  virtual?: boolean;
  boot: { medium: 'sd' | 'usb' | 'flasher' | 'emmc' | 'disk'; bootloader: string; internalStorage?: string };
  serial: { uart: string; baud: number };
  markers: { bootloader: string; kernel: string; userspace: string; flasherDone?: string };
  failurePatterns?: { name: string; pattern: string; severity: 'fatal' | 'record' }[];
  timeouts: {
    bootloader: number;
    kernel: number;
    userspace: number;
    login: number;
    command: number;
    flash?: number;
    dhcp?: number;
    mdns?: number;
    ssh?: number;
    update?: number;
    rollback?: number;
    /** Flasher boards: the flasher writing internal storage and powering off (default: flash). */
    flasher?: number;
  };
  capabilities: Capability[];
  /** The WiFi interface's name on this hardware (the OS profile's `wifi.interface` wins). */
  wifi?: { interface?: string };
  qemu?: {
    binary: string;
    machine: string;
    cpu?: string;
    memoryMb: number;
    smp?: number;
    firmware?: string;
    diskDevice?: string;
    nicModel?: string;
    extraArgs?: string[];
    /** Virtual flasher boards: the size of the second disk, the internal storage. */
    internalDiskMb?: number;
  };
  defaultImage?: { arch: 'x86_64' | 'armv7'; variant: string };
  /** Where it was loaded from, for error messages. */
  file: string;
}

/**
 * Where board types are read from. HW_TEST_BOARDS_DIR points elsewhere (a folder of board YAML
 * files, e.g. a test's copy of a type with short timeouts); default: the repository's boards/.
 */
export const BOARDS_DIR = process.env.HW_TEST_BOARDS_DIR || path.join(ROOT, 'boards');

export function loadBoardFile(file: string): BoardType {
  const board = loadYaml<Omit<BoardType, 'file'>>(file, 'board.schema.json', 'board');
  const expected = path.basename(file, path.extname(file));
  if (board.name !== expected) {
    throw new InputError(`${file}: name must be "${expected}" (the file's name), not "${board.name}"`, {
      file,
      field: 'name',
    });
  }
  return { ...board, file };
}

export function boardNames(dir = BOARDS_DIR): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : code;
    const where = dir === process.env.HW_TEST_BOARDS_DIR ? `HW_TEST_BOARDS_DIR ${dir}` : dir;
    throw new InputError(`${where}: ${why ?? String(err)} (the board types' folder)`, { file: dir });
  }
  return files
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export function loadBoard(name: string, dir = BOARDS_DIR): BoardType {
  const names = boardNames(dir);
  if (!names.includes(name)) {
    throw new InputError(`unknown board "${name}": known boards are ${names.join(', ')}`, { board: name });
  }
  return loadBoardFile(path.join(dir, `${name}.yaml`));
}

export function loadAllBoards(dir = BOARDS_DIR): BoardType[] {
  return boardNames(dir).map((n) => loadBoardFile(path.join(dir, `${n}.yaml`)));
}

/**
 * LAVA's kernel failure patterns, on for every board: a panic is fatal at once; Oops, BUG and
 * WARNING are recorded in the report (the image may still be judged on its tests).
 */
export const DEFAULT_FAILURE_PATTERNS: FailurePattern[] = [
  { name: 'kernel-panic', pattern: /Kernel panic - not syncing/, severity: 'fatal' },
  { name: 'oops', pattern: /(?:^|\W)Oops(?: -)?[: ]/, severity: 'record' },
  { name: 'bug', pattern: /(?:^|\s|\])BUG: /, severity: 'record' },
  { name: 'warning', pattern: /(?:^|\s|\])WARNING: /, severity: 'record' },
];

export function failurePatterns(board: BoardType): FailurePattern[] {
  return [
    ...DEFAULT_FAILURE_PATTERNS,
    ...(board.failurePatterns ?? []).map((p) => ({
      name: p.name,
      pattern: new RegExp(p.pattern),
      severity: p.severity,
    })),
  ];
}
