import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import { runChecked, type Spawner } from '../util/spawn.js';
import type { FileOptions, PartitionFiles } from './files.js';

export interface ExtStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  type: string;
}

/** `stat` output of debugfs: `Type: regular    Mode:  0600` and `User:     0   Group:     0 ... Size: 3`. */
export function parseDebugfsStat(text: string): ExtStat | undefined {
  const t = /Type:\s+(\S+)\s+Mode:\s+([0-7]+)/.exec(text);
  const u = /User:\s+(\d+)\s+Group:\s+(\d+)(?:\s+Project:\s+\d+)?\s+Size:\s+(\d+)/.exec(text);
  if (!t || !u) return undefined;
  return { type: t[1], mode: parseInt(t[2], 8), uid: Number(u[1]), gid: Number(u[2]), size: Number(u[3]) };
}

const octal = (n: number) => `0${n.toString(8)}`;

/**
 * Files on an ext2/3/4 filesystem inside an image, with e2fsprogs' debugfs addressing the
 * partition as `IMAGE?offset=BYTES`: no mount, no loop device. Every write is read back (content,
 * mode, owner), because debugfs reports a failed command on stderr and still exits 0.
 */
export class ExtImage implements PartitionFiles {
  constructor(
    private readonly spawner: Spawner,
    readonly image: string,
    readonly offset: number,
    readonly fs: 'ext2' | 'ext3' | 'ext4' = 'ext4',
  ) {}

  private get target(): string {
    return `${this.image}?offset=${this.offset}`;
  }

  /** debugfs names files without quoting: a path must be plain. */
  private path(p: string): string {
    const abs = `/${p.replace(/^\/+/, '')}`;
    if (!/^[\w@%+=:,./-]+$/.test(abs) || abs.split('/').includes('..'))
      throw new InputError(
        `${abs}: a path on an ext partition must be plain (letters, digits, . _ - + @ % = : ,) with no ..`,
        { field: 'configure.files' },
      );
    return abs;
  }

  private async request(command: string): Promise<{ stdout: string; stderr: string }> {
    return runChecked(this.spawner, 'debugfs', ['-R', command, this.target], {
      timeoutMs: 30_000,
      what: `debugfs ${command} on ${this.target}`,
    });
  }

  async stat(p: string): Promise<ExtStat | undefined> {
    const r = await this.request(`stat ${this.path(p)}`);
    if (/File not found by ext2_lookup/.test(r.stderr)) return undefined;
    const s = parseDebugfsStat(r.stdout);
    if (!s)
      throw new InputError(
        `${this.image}: debugfs cannot read ${p} in the ext partition at byte ${this.offset}: ${r.stderr.trim().split('\n').pop() ?? ''}`,
        { file: this.image },
      );
    return s;
  }

  async read(p: string): Promise<string | undefined> {
    if (!(await this.stat(p))) return undefined;
    return (await this.request(`cat ${this.path(p)}`)).stdout;
  }

  async owner(p: string): Promise<{ uid: number; gid: number } | undefined> {
    const s = await this.stat(p);
    return s && { uid: s.uid, gid: s.gid };
  }

  /** The commands that create the missing parents of `file`, each with its mode and owner. */
  private async parentCommands(file: string, o: FileOptions): Promise<string[]> {
    const parts = file.split('/').filter(Boolean).slice(0, -1);
    const cmds: string[] = [];
    for (let i = 1; i <= parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      const s = await this.stat(dir);
      if (s && s.type !== 'directory')
        throw new InputError(`${this.image}: ${dir} is a ${s.type} on the ext partition, not a directory`, {
          file: this.image,
        });
      if (s) continue;
      // The file's own folder gets the file's owner and dirMode (an .ssh folder); those above it root's.
      const own = i === parts.length;
      const mode = own ? (o.dirMode ?? 0o755) : 0o755;
      cmds.push(`mkdir ${dir}`, `sif ${dir} mode 040${mode.toString(8).padStart(3, '0')}`);
      cmds.push(`sif ${dir} uid ${own ? (o.uid ?? 0) : 0}`, `sif ${dir} gid ${own ? (o.gid ?? 0) : 0}`);
    }
    return cmds;
  }

  async write(p: string, content: string, o: FileOptions = {}): Promise<void> {
    const file = this.path(p);
    const mode = o.mode ?? 0o644;
    const cmds = await this.parentCommands(file, o);
    if (await this.stat(file)) cmds.push(`rm ${file}`);
    // The content may be a WiFi passphrase: it lives in a private folder only while debugfs reads it.
    const tmp = mkdtempSync(path.join(tmpdir(), 'hwt-ext-'));
    try {
      const local = path.join(tmp, 'file');
      writeFileSync(local, content, { mode: 0o600 });
      cmds.push(`write ${local} ${file}`, `sif ${file} mode 0100${mode.toString(8).padStart(3, '0')}`);
      cmds.push(`sif ${file} uid ${o.uid ?? 0}`, `sif ${file} gid ${o.gid ?? 0}`);
      const res = await runChecked(this.spawner, 'debugfs', ['-w', '-f', '-', this.target], {
        input: `${cmds.join('\n')}\n`,
        timeoutMs: 60_000,
        what: `debugfs -w on ${this.target}`,
      });
      await this.verify(file, content, mode, o, res.stderr);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  private async verify(file: string, content: string, mode: number, o: FileOptions, stderr: string) {
    const s = await this.stat(file);
    const back = s ? (await this.request(`cat ${file}`)).stdout : undefined;
    const ok = s && back === content && (s.mode & 0o7777) === mode && s.uid === (o.uid ?? 0);
    if (ok && s.gid === (o.gid ?? 0)) return;
    const why =
      stderr
        .split('\n')
        .filter((l) => l.trim() && !/^debugfs \d/.test(l))
        .slice(-2)
        .join('; ') || 'no error from debugfs';
    const got = s ? `mode ${octal(s.mode & 0o7777)}, owner ${s.uid}:${s.gid}, ${s.size} bytes` : 'no file';
    throw new InputError(
      `${this.image}: writing ${file} into the ext partition at byte ${this.offset} failed (${got}; expected mode ${octal(mode)}, owner ${o.uid ?? 0}:${o.gid ?? 0}, ${Buffer.byteLength(content)} bytes): ${why}`,
      { file: this.image },
    );
  }
}
