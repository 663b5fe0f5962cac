import { loadBoard } from '../catalog/board.js';
import { loadOsProfile } from '../catalog/os-profile.js';
import { WIRING_DOCS, findInstance, labPath, loadLab, type Lab } from '../catalog/lab.js';
import { InputError, errorMessage } from '../errors.js';
import type { Spawner } from '../util/spawn.js';
import type { QemuBoardFactory } from '../sim/virtual-rig.js';
import type { CheckResult } from '../lab/doctor-checks.js';
import { helpText, parseOptions, type OptionTable } from './options.js';
import type { CliCommand, CliIo } from './io.js';

export const OPTIONS = [
  {
    name: 'board',
    value: 'NAME',
    description: 'a board instance of the lab file, or a board type with one instance there',
  },
  {
    name: 'lab',
    value: 'FILE',
    description: `the lab wiring file (default: $HW_TEST_LAB; see ${WIRING_DOCS})`,
  },
  {
    name: 'os',
    value: 'PROFILE',
    description: 'with --image: check this OS profile against the image instead (hw-test image check)',
  },
  { name: 'image', value: 'IMAGE', description: 'with --os: the image to check the profile against' },
] as const satisfies OptionTable;

const USAGE = helpText({
  synopsis: `Usage: hw-test doctor --board NAME [--lab FILE]
       hw-test doctor --os PROFILE --image IMAGE [--board TYPE]`,
  intro: `Checks a board's wiring without flashing anything, one line per check:
  tool    the programs its drivers run are installed (usbsdmux, sd-mux-ctrl, uhubctl, gpiod, qemu)
  serial  the serial device exists and opens
  gpio    the GPIO lines can be claimed
  power   the power switch answers (a relay is switched off and read back)
  mux     the mux answers and its block device appears on switching (the board is powered off first)
  wifi    the rig's AP interface exists and supports AP mode (iw phy), or a lab AP's passphrase and
          address are there (hostapd, hostapd_cli, dnsmasq and iw are tool checks)

With --os and --image: checks an OS profile against an image before a board is spent on it (the
same as hw-test image check; see docs/your-os.md): prompts, the partition it configures and its
filesystem, the files a run writes and their room; exit 2 on a problem.`,
  options: OPTIONS,
  notes: 'Exit codes: 0 every check passed, 2 bad input, 3 a check failed.',
});

export interface DoctorOptions {
  board: string;
  labFile: string;
  /** The lab file already parsed (a health check has it). */
  lab?: Lab;
  env?: NodeJS.ProcessEnv;
  spawner?: Spawner;
  qemuFactory?: QemuBoardFactory;
  out: (line: string) => void;
}

/** Runs every check of one board instance, printing a line each; resolves with the results. */
export async function runDoctor(opts: DoctorOptions): Promise<CheckResult[]> {
  const lab = opts.lab ?? loadLab(opts.labFile);
  const inst = findInstance(lab, opts.board);
  const type = loadBoard(inst.type);
  const checks = await import('../lab/doctor-checks.js');
  const wifi = await import('../lab/doctor-wifi.js');
  const { createLabBoard } = await import('../lab/lab-board.js');
  const print = (r: CheckResult) => opts.out(checks.formatCheck(r));

  opts.out(`doctor ${inst.name} (${inst.type}) from ${lab.file}`);
  // A board in a run is not touched: opening its UART or switching its mux would break the run.
  const { lockBoard } = await import('../runner/lock.js');
  let lock: Awaited<ReturnType<typeof lockBoard>>;
  try {
    lock = await lockBoard(inst.name, { timeoutMs: 0, env: opts.env });
  } catch (err) {
    const r: CheckResult = { status: 'FAIL', kind: 'lock', text: `${inst.name}: ${errorMessage(err)}` };
    print(r);
    return [r];
  }
  try {
    const results = await checks.runChecks(
      [
        ...checks.toolChecks(inst, type, opts.env, wifi.wifiTools(inst)),
        checks.serialCheck(inst, type),
        ...wifi.wifiChecks(inst, { spawner: opts.spawner, env: opts.env }),
      ],
      print,
    );
    const board = await createLabBoard(lab, inst.name, {
      os: loadOsProfile(),
      spawner: opts.spawner,
      env: opts.env,
      qemuFactory: opts.qemuFactory,
      type,
    });
    try {
      const rigChip = board.virtualRig?.chip;
      const later = [
        ...checks.gpioChecks(inst, { spawner: opts.spawner, chipFor: rigChip ? () => rigChip : undefined }),
        checks.powerCheck(board),
        ...[checks.muxCheck(board)].filter((c) => c !== undefined),
      ];
      results.push(...(await checks.runChecks(later, print)));
    } finally {
      // Releasing powers the board off again: a failure there was reported by the power check.
      await board.release().catch((err: unknown) => opts.out(`note release: ${errorMessage(err)}`));
    }
    return results;
  } finally {
    await lock.release();
  }
}

/** The doctor's lines and its exit code: 0 every check passed, 3 one failed. */
export async function checkWiring(opts: Omit<DoctorOptions, 'out'>, io: CliIo): Promise<number> {
  const results = await runDoctor({ ...opts, out: (l) => io.out(l) });
  const failed = results.filter((r) => r.status === 'FAIL').length;
  io.out(failed ? `${failed} check(s) failed` : 'all checks passed');
  return failed ? 3 : 0;
}

export const command: CliCommand = {
  summary:
    "check a board's wiring (serial, GPIO, mux, power, tools) without flashing, or an OS profile against an image",
  usage: USAGE,
  async main(argv, io) {
    const { values } = parseOptions('doctor', argv, OPTIONS);
    if (values.os || values.image) {
      if (!values.os || !values.image)
        throw new InputError(
          'doctor: --os PROFILE and --image IMAGE go together (see hw-test doctor --help)',
        );
      const { checkMain } = await import('./image-check.js');
      return checkMain(
        ['--os', values.os, ...(values.board ? ['--board', values.board] : []), values.image],
        io,
      );
    }
    if (!values.board) throw new InputError('doctor: --board is required (see hw-test doctor --help)');
    const labFile = labPath(values.lab, io.env);
    if (!labFile) {
      throw new InputError(
        `doctor: no lab file: pass --lab FILE or set HW_TEST_LAB (see ${WIRING_DOCS}; the virtual rig's is boards/labs/virtual.yaml)`,
      );
    }
    return checkWiring({ board: values.board, labFile, env: io.env }, io);
  },
};
