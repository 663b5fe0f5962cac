/**
 * What a suite needs, declared beside its specs (`suites/<name>/suite.ts`, default export). The
 * runner, the CLI, the image preparation and the reports read manifests; nothing in rig/ knows a
 * suite by its name.
 */

/** An input file a suite needs from the run, e.g. an update bundle. */
export interface SuiteArtifact {
  /** Its key in `rig().artifacts`, e.g. `update:v2`. */
  readonly name: string;
  /** What it is, for --help and error messages. */
  readonly description: string;
  /**
   * The run option that supplies it (`--OPTION FILE|URL`, listed by `hw-test --help`), when a user
   * can give it. A URL is downloaded and cached like `--image`; a `.sha256` beside the file or URL
   * is enforced; credentials in the URL are masked in every report.
   */
  readonly option?: string;
  /**
   * Another artifact's name, looked up when no source has this one: what the board type's default
   * image offers in its place (the reference OS's `update:v2`). The suite reads whichever is there.
   */
  readonly fallback?: string;
  /**
   * Without it (nor its `fallback`) the suite cannot run at all: the run is refused as bad input
   * (exit 2) before anything is flashed, naming `option` (not on a board that lacks the suite's
   * `capabilities`, nor under an OS profile that lacks its `osCommands`: the suite skips there).
   * Otherwise the suite decides what a missing one means.
   */
  readonly required?: boolean;
}

/** A command-line option a suite takes: `--NAME VALUE`, read by the suite as `rig().options[NAME]`. */
export interface SuiteOption {
  readonly name: string;
  /** The value's placeholder in --help, e.g. `N`. */
  readonly value: string;
  readonly description: string;
}

export interface SuiteManifest {
  /** `--suite NAME`, and the `suite` of its results. A built-in suite's name is its folder's. */
  readonly name: string;
  readonly description?: string;
  /**
   * Board capabilities (`capabilities` in boards/*.yaml) without which the suite has nothing to
   * check; the run sets up what the suite needs (an access point ...) only for a board that has them.
   */
  readonly capabilities?: readonly string[];
  /**
   * OS profile commands (`commands:` in os/profiles/*.yaml) without which the suite has nothing to
   * check on that OS: like missing capabilities, the suite skips, and its artifacts are neither
   * prepared nor required.
   */
  readonly osCommands?: readonly string[];
  /** The board must be on a network the rig reaches: the run sets one up (`rig().network`). */
  readonly network?: boolean;
  /**
   * The board joins the rig's WiFi access point: the run's credentials go into the image and the
   * access point is started (`rig().wifi`): hostapd on the lab's AP interface, the lab's own AP,
   * or a virtual board's simulated one, which the rig reaches over the board's network (so a
   * suite that asks for it asks for `network` too).
   */
  readonly accessPoint?: boolean;
  readonly artifacts?: readonly SuiteArtifact[];
  readonly options?: readonly SuiteOption[];
  /** Position in reports (the dashboard's columns): lower first; suites without one last, by name. */
  readonly order?: number;
  /** Run when `--suite` is not given. */
  readonly default?: boolean;
  /** What `hw-test health-check` runs on a board's known-good image to call the board healthy. */
  readonly healthCheck?: boolean;
}

/** Types a manifest (`export default defineSuite({...})`). */
export function defineSuite<M extends SuiteManifest>(manifest: M): M {
  return manifest;
}
