/**
 * The fixture API: what a suite imports, as the package export `hw-test/suite`
 * (`import { rig, skipBecause } from 'hw-test/suite'`). The built-in suites use exactly this
 * module; it is versioned with the package.
 */
export type {
  BootSession,
  BootStage,
  BoardNetwork,
  CommandResult,
  ConsoleShell,
  Dut,
  SuiteContext,
  Unavailable,
  WifiNetwork,
  WifiStation,
} from './contracts.js';
export { chainedSteps, rig, setRig, skipBecause } from './context.js';
export { defineSuite, type SuiteArtifact, type SuiteManifest, type SuiteOption } from './manifest.js';
export type { BoardType } from '../catalog/board.js';
export type { OsProfile } from '../catalog/os-profile.js';
/** What the OS profile promises, asked the same way by every suite (never the OS's name). */
export {
  addressCommand,
  configurableItems,
  hasTool,
  hostnameExpectation,
  missingTool,
  nameLookup,
  type HostnameExpectation,
  type NameLookup,
} from '../catalog/os-expect.js';
export type { Console } from '../console/console.js';
export type { PowerSwitch } from '../power/power-switch.js';
/** What a suite throws to say whose fault a problem is (see docs/reliability.md). */
export { FailError, InfraError, errorMessage } from '../errors.js';
