import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBoard } from '../catalog/board.js';
import { InputError } from '../errors.js';
import { parseOptions, type OptionTable } from './options.js';
import type { CliIo } from './io.js';

export const CHECK_OPTIONS = [
  { name: 'os', value: 'PROFILE', description: 'the OS profile to check (required)' },
  {
    name: 'board',
    value: 'NAME',
    description: "a board type: its console must be the profile's login console",
  },
] as const satisfies OptionTable;

/** `hw-test image check --os PROFILE [--board NAME] IMAGE`: one line per finding, exit 2 on a problem. */
export async function checkMain(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions('image check', argv, CHECK_OPTIONS, { positionals: true });
  if (!values.os) throw new InputError('image check: --os PROFILE is required (the OS profile to check)');
  if (positionals.length !== 1)
    throw new InputError(
      `image check: give exactly one IMAGE (got ${positionals.length}); see hw-test image --help`,
    );
  const image = positionals[0];
  if (!existsSync(image)) throw new InputError(`${image}: no such image file`, { file: image });
  const { loadOsProfile } = await import('../catalog/os-profile.js');
  const os = loadOsProfile(path.resolve(values.os));
  if (values.board) {
    // The board's console and the profile's login console must be the same tty.
    const { effectiveBoardType } = await import('../catalog/effective-board.js');
    effectiveBoardType(loadBoard(values.board), os);
  }
  const { checkImage } = await import('../image/check.js');
  io.out(`image check: ${values.os} against ${image}`);
  const results = await checkImage(image, os);
  for (const r of results) io.out(`${r.ok ? 'ok     ' : 'PROBLEM'} ${r.what}: ${r.text}`);
  const problems = results.filter((r) => !r.ok).length;
  io.out(problems ? `${problems} problem(s): fix the profile or the image before a run` : 'no problem found');
  return problems ? 2 : 0;
}
