/** What a CLI command gets: its arguments and where to write. Only the CLI writes to the terminal. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** true when stdout is a TTY and CI is not set: draw bars; otherwise log plain lines. */
  interactive: boolean;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM/SIGHUP. */
  signal: AbortSignal;
  /** The terminal, for the commands a person drives (console, ssh): raw keys in, raw bytes out. */
  terminal?: { input: NodeJS.ReadStream; output: NodeJS.WriteStream };
}

/** A subcommand module: `hw-test NAME ...` imports `rig/cli/NAME.js` and calls `main`. */
export interface CliCommand {
  summary: string;
  /** Its --help, generated from its option table. */
  usage: string;
  /**
   * A --help that must load something first (the run's lists the suites' options, those of the
   * user suites its `--suite` names included): `argv` is the command line before `--`.
   */
  help?: (argv: string[]) => Promise<string>;
  main(argv: string[], io: CliIo): Promise<number>;
}

export function isInteractive(env: NodeJS.ProcessEnv, stream: NodeJS.WriteStream = process.stderr): boolean {
  const ci = env.CI;
  return Boolean(stream.isTTY) && !(ci && ci !== 'false' && ci !== '0');
}
