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
  /** The run option that supplies it (`--OPTION FILE|URL`), when a user can give it. */
  readonly option?: string;
  /**
   * Without it the suite cannot run at all: the run is refused as bad input (exit 2) before
   * anything is flashed, naming `option`. Otherwise the suite decides what a missing one means.
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
