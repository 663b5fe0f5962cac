import { statSync, type Stats } from 'node:fs';
import { InputError } from '../errors.js';

/**
 * A file the user named, checked before it is read: it exists and is a regular file (a block
 * device too where `blockOk`). A directory would fail with EISDIR half way, and a FIFO or a
 * character device would block a synchronous read for ever: both are refused in one line.
 * `label` names the option or field (`--ssh-key FILE`, `IMAGE`).
 */
export function inputFile(
  path: string,
  label: string,
  o: { blockOk?: boolean; missing?: string } = {},
): Stats {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? (o.missing ?? 'no such file') : `cannot read it (${code ?? String(err)})`;
    throw new InputError(`${label}: ${why}`, { file: path });
  }
  if (st.isFile() || (o.blockOk && st.isBlockDevice())) return st;
  const kind = st.isDirectory()
    ? 'a directory'
    : st.isFIFO()
      ? 'a named pipe'
      : st.isSocket()
        ? 'a socket'
        : st.isCharacterDevice()
          ? 'a character device'
          : st.isBlockDevice()
            ? 'a block device'
            : 'not a regular file';
  throw new InputError(`${label}: is ${kind}, not a file`, { file: path });
}
