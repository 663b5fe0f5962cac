/** What the signal handling uses of the process; tests hand in a fake. */
export interface SignalHost {
  on(signal: NodeJS.Signals, fn: (signal: NodeJS.Signals) => void): void;
  exit(code: number): void;
  err(line: string): void;
  /** An unref'd timer: it does not keep a finished process alive, but fires in a stuck one. */
  later(fn: () => void, ms: number): void;
}

/** The teardown's deadline after the first signal: the board off, released and reported by then. */
export const TEARDOWN_DEADLINE_MS = 9000;

export const PROCESS_HOST: SignalHost = {
  on: (s, fn) => process.on(s, fn),
  exit: (code) => process.exit(code),
  err: (l) => process.stderr.write(`${l}\n`),
  later: (fn, ms) => setTimeout(fn, ms).unref(),
};

/**
 * SIGINT, SIGTERM and SIGHUP: the first aborts the run, whose teardown powers the board off, releases it
 * and writes the report; if that has not ended the process within the deadline (something it
 * awaits never settles), the process exits 130 regardless. A second signal exits at once.
 */
export function handleSignals(
  ctl: AbortController,
  host: SignalHost = PROCESS_HOST,
  deadlineMs = TEARDOWN_DEADLINE_MS,
): void {
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals += 1;
    // A second signal forces the exit: the user has given up on the clean teardown.
    if (signals > 1) return host.exit(130);
    host.err(`hw-test: ${sig}: powering off, releasing the board and writing the report...`);
    host.later(() => {
      host.err(
        `hw-test: the teardown did not end within ${deadlineMs / 1000} s of ${sig}: exiting (130); check that the board is powered off`,
      );
      host.exit(130);
    }, deadlineMs);
    ctl.abort(sig);
  };
  host.on('SIGINT', onSignal);
  host.on('SIGTERM', onSignal);
  // A closed terminal: the board a console session holds is powered off and released all the same.
  host.on('SIGHUP', onSignal);
}
