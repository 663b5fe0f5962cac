import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { InputError } from '../errors.js';
import { registerSecret } from '../log.js';
import { inputFile } from '../util/input-file.js';

// ssh2 is CommonJS: its named exports are reached through the default import.
const { utils } = ssh2;

/** The run's SSH key: its public half goes into the image, its private half never leaves the process. */
export interface SshKey {
  privateKey: string;
  /** OpenSSH one-line form, `ssh-ed25519 AAAA... comment`. */
  publicKey: string;
}

/**
 * A fresh ed25519 pair that ssh2 itself can parse. ssh2's generator strips leading zero bytes from
 * the public key (mscdex/ssh2#1390, #1513), so about 1 pair in 256 is malformed: in a nightly that
 * is a board failing its SSH login for nothing. Such a pair is thrown away and another made.
 */
export function ed25519Pair(comment?: string): { private: string; public: string } {
  for (let i = 0; ; i++) {
    const pair = utils.generateKeyPairSync('ed25519', comment === undefined ? undefined : { comment });
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error))
      return pair;
    // (255/256)^16 of never getting a good pair: a broken ssh2, not bad luck.
    if (i >= 16) throw new Error('ssh2 generated 16 malformed ed25519 keys in a row');
  }
}

/** A fresh ed25519 key for one run; the private key is masked in every log and report. */
export function generateRunKey(comment = 'hw-test run key'): SshKey {
  const pair = ed25519Pair(comment);
  registerKey(pair.private);
  return { privateKey: pair.private, publicKey: pair.public.trim() };
}

/** Registers a private key as a secret, both whole and line by line (a log may quote one line). */
export function registerKey(privateKey: string): void {
  registerSecret(privateKey);
  registerSecret(privateKey.trim());
  for (const line of privateKey.split('\n'))
    if (!line.startsWith('-----') && line.trim().length >= 16) registerSecret(line.trim());
}

/** Reads a private key file (its `.pub` beside it is not needed: the public half is derived). */
export function loadPrivateKey(file: string): SshKey {
  inputFile(file, `${file}: the SSH key`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(
      `${file}: cannot read the SSH key (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { file },
    );
  }
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error)
    throw new InputError(`${file}: not a private key ssh2 can use: ${parsed.message}`, { file });
  registerKey(text);
  const key = parsed;
  return { privateKey: text, publicKey: `${key.type} ${key.getPublicSSH().toString('base64')}` };
}

/** Validates a public key line (`authorized_keys` form), for `image configure --ssh-key FILE.pub`. */
export function parsePublicKeyLine(text: string, file: string): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('#'));
  if (!line)
    throw new InputError(`${file}: empty, expected an OpenSSH public key line (ssh-ed25519 AAAA...)`, {
      file,
    });
  const parsed = utils.parseKey(line);
  if (parsed instanceof Error)
    throw new InputError(`${file}: not an OpenSSH public key: ${parsed.message}`, { file });
  const key = parsed;
  if (key.isPrivateKey())
    throw new InputError(`${file}: a private key; give the public one (${file}.pub)`, { file });
  return line;
}
