import type { BoardInstance } from '../board/board.js';
import type { ConsoleBootSession } from '../board/boot-session.js';
import type { OsProfile } from '../catalog/os-profile.js';
import type { RunSummary, TestResult } from '../report/model.js';
import type { BoardNetwork } from '../suite-api/contracts.js';
import type { ResolvedBoard } from './board-factory.js';
import type { Multiplexer, RunReporter } from './events.js';
import type { ProgressSink } from './flash-step.js';
import type { PreparedImage } from './prepare.js';
import type { SuiteEntry, SuiteNeeds } from '../catalog/suites.js';

export interface BoardRunOptions {
  board: ResolvedBoard;
  os: OsProfile;
  image?: string;
  /** The image's expected sha256 (`--image-sha256`). */
  imageSha256?: string;
  suites: string[];
  grep?: string;
  reportsDir: string;
  lockTimeoutMs: number;
  /** The suites' own options from the command line (their manifests' `options`). */
  suiteOptions: Record<string, string>;
  /** Files the user named for the suites' artifacts, by option (`update-bundle` -> path or URL). */
  artifactFiles?: Record<string, string>;
  signal: AbortSignal;
  /** Where the run's events go (the CLI prints them); several are multiplexed. */
  reporters: readonly RunReporter[];
  interactive: boolean;
  env: NodeJS.ProcessEnv;
  /** The command line that reproduces this run, for the report. */
  reproduce: string;
  /** Draws flash progress (a bar on a TTY, plain lines in CI). */
  progress?: (label: string) => ProgressSink;
  /** Infra retries: flash attempts and power cycles after a silent boot (never after a fail). */
  retries?: number;
  /** Consecutive infra results that quarantine the board (default 3). */
  quarantineAfter?: number;
  /** A health check runs a quarantined board, and lifts the quarantine when it passes. */
  healthCheck?: boolean;
  /** The WiFi AP's passphrase instead of the image's: a negative test of a WiFi suite. */
  wifiApPassphrase?: string;
}

/** What the run has established so far, for its report (filled as the tasks go, kept on failure). */
export interface RunFacts {
  image?: PreparedImage;
  instance?: BoardInstance;
  boot?: ConsoleBootSession;
  flash?: RunSummary['flash'];
  tests: TestResult[];
  /** The board was refused as quarantined: this run says nothing new about its health. */
  quarantined: boolean;
}

/** What every task of a board's run starts from. */
export interface RunBase {
  readonly board: ResolvedBoard;
  readonly opts: BoardRunOptions;
  readonly suites: readonly SuiteEntry[];
  readonly needs: SuiteNeeds;
  readonly runDir: string;
  readonly events: Multiplexer;
  readonly facts: RunFacts;
}

/** A network the run set up for the board, as the run holds it. */
export type RunNetwork = BoardNetwork & {
  qemuNetArgs?: string[];
  wrapper?: string[];
  teardown(): Promise<void>;
};
