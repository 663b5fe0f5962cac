import type { Verdict } from '../errors.js';

/** The neutral result model every reporter reads (JUnit, Allure, summary.json, the dashboard). */
export interface Attachment {
  name: string;
  /** MIME type, e.g. text/plain */
  type: string;
  /** Path relative to the run directory, or inline content. */
  path?: string;
  content?: string;
}

export interface TestResult {
  suite: string;
  title: string;
  fullTitle: string;
  verdict: Verdict;
  durationMs: number;
  message?: string;
  /** The failure's class and details, e.g. the console lines that were seen. */
  details?: string;
  skipReason?: string;
  attachments: Attachment[];
  /** Measurements: stage times, throughput ... */
  metrics?: Record<string, number>;
  startedAt: string;
}

export interface StepRecord {
  name: string;
  startedAt: string;
  durationMs: number;
  verdict: Verdict;
  message?: string;
}

export interface StageTiming {
  stage: string;
  /** ms since power on */
  atMs: number;
  /** ms since the previous stage */
  durationMs: number;
}

export interface RunSummary {
  schema: 1;
  runId: string;
  board: string;
  boardType: string;
  host: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  verdict: Verdict;
  exitCode: number;
  image: {
    path: string;
    /** The sha256 of the image as given (a URL: of the bytes downloaded). */
    sha256?: string;
    /** An image URL: whether the bytes came from the download cache (revalidated) or the server. */
    fromCache?: boolean;
    version?: string;
    sizeBytes?: number;
  };
  suites: string[];
  tests: TestResult[];
  steps: StepRecord[];
  stages: StageTiming[];
  /** ms from power on to the login prompt; absent when the board never got there (the dashboard's boot-time trend). */
  bootMs?: number;
  flash?: { mbPerSecond: number; bytesWritten: number; seconds: number; verified: boolean };
  findings: { severity: string; pattern: string; line: string }[];
  /** One command that reproduces this run at a desk. */
  reproduce: string;
  attempt?: number;
  message?: string;
  /** Requested suites that tested nothing, each with why (rig/report/miss.ts). */
  missed?: { suite: string; reason: string }[];
}
