import { existsSync, readFileSync } from 'node:fs';
import { inputFile } from '../util/input-file.js';
import { loadOsProfile } from '../catalog/os-profile.js';
import { HwTestError, InputError, errorMessage, exitCodeFor } from '../errors.js';
import { configureImage, type ImageConfig } from '../image/configure.js';
import { registerSecret } from '../log.js';
import { loadPrivateKey, parsePublicKeyLine } from '../net/ssh-key.js';
import type { Spawner } from '../util/spawn.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import type { CliIo } from './io.js';

export const CONFIGURE_OPTIONS = [
  { name: 'hostname', value: 'H', description: "the board's hostname (it answers as H.local)" },
  {
    name: 'ssh-key',
    value: 'FILE',
    description: "a public key (FILE.pub, or FILE when it is one; a private FILE's public half)",
  },
  { name: 'wifi-ssid', value: 'S', description: 'WiFi network, with --wifi-psk P or --wifi-psk-file F' },
  { name: 'wifi-psk', value: 'P', description: 'the WiFi passphrase' },
  { name: 'wifi-psk-file', value: 'F', description: 'a file holding the WiFi passphrase' },
  { name: 'dev-mode', description: 'development mode' },
  { name: 'os', value: 'PROFILE', description: 'OS profile YAML (default: the reference OS)' },
  { name: 'help', description: 'this help', short: 'h' },
] as const satisfies OptionTable;

export const CONFIGURE_USAGE = helpText({
  synopsis: `hw-test image configure [--hostname H] [--ssh-key FILE[.pub]] [--wifi-ssid S --wifi-psk P | --wifi-psk-file F] [--dev-mode] [--os PROFILE] IMAGE

Writes the board's settings into IMAGE (raw, uncompressed), into the partition and in the way its OS
profile's configure block says (files on FAT or ext4, a JSON file, Raspberry Pi OS's boot
partition), without mounting it:`,
  options: CONFIGURE_OPTIONS,
});

/** The public key line from `--ssh-key FILE`: FILE.pub beside a private key, or FILE itself. */
export function readSshKeyOption(file: string): string {
  inputFile(file, `--ssh-key ${file}`);
  const text = readFileSync(file, 'utf8');
  if (/PRIVATE KEY/.test(text)) {
    if (existsSync(`${file}.pub`))
      return parsePublicKeyLine(readFileSync(`${file}.pub`, 'utf8'), `${file}.pub`);
    return loadPrivateKey(file).publicKey;
  }
  return parsePublicKeyLine(text, file);
}

function readPsk(file: string): string {
  inputFile(file, `--wifi-psk-file ${file}`);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new InputError(
      `--wifi-psk-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { file },
    );
  }
}

/** `hw-test image configure ...`: called by the `hw-test image` dispatcher with the arguments after `configure`. */
export async function configureMain(
  argv: string[],
  io: CliIo,
  opts: { spawner?: Spawner } = {},
): Promise<number> {
  try {
    const { values, positionals } = parseOptions('image configure', argv, CONFIGURE_OPTIONS, {
      positionals: true,
    });
    if (values.help) {
      io.out(CONFIGURE_USAGE);
      return 0;
    }
    if (positionals.length !== 1) {
      throw new InputError(
        `image configure: give exactly one IMAGE (got ${positionals.length}); see hw-test image configure --help`,
      );
    }
    const image = positionals[0];
    inputFile(image, image, { missing: 'no such image file' });
    if (values['wifi-psk'] && values['wifi-psk-file'])
      throw new InputError('image configure: give --wifi-psk or --wifi-psk-file, not both', {
        field: 'wifi-psk',
      });
    const psk =
      values['wifi-psk'] ?? (values['wifi-psk-file'] ? readPsk(values['wifi-psk-file']) : undefined);
    registerSecret(psk);
    const cfg: ImageConfig = {
      hostname: values.hostname,
      sshKey: values['ssh-key'] ? readSshKeyOption(values['ssh-key']) : undefined,
      wifiSsid: values['wifi-ssid'],
      wifiPsk: psk,
      devMode: values['dev-mode'],
    };
    if (Object.values(cfg).every((v) => v === undefined)) {
      throw new InputError(
        'image configure: nothing to write; give --hostname, --ssh-key, --wifi-ssid/--wifi-psk or --dev-mode',
      );
    }
    const os = loadOsProfile(values.os);
    const written = await configureImage(image, cfg, os, opts);
    for (const f of written) io.out(`${image}: ${f.path} (${f.item})`);
    return 0;
  } catch (err) {
    io.err(`hw-test image configure: ${errorMessage(err)}`);
    return err instanceof HwTestError ? exitCodeFor(err.class) : 1;
  }
}
