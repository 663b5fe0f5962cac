/**
 * The built-in suites' way to the fixture API: the same module as the package export
 * `hw-test/suite` (rig/suite-api), re-exported.
 */
export * from '../rig/suite-api/index.js';
