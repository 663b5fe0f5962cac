/**
 * The direction of imports (npm run lint, and test/unit/architecture.test.ts in npm test):
 * the controller never imports the suites, nothing imports in a circle, and suites reach the
 * board through the fixture API's interfaces, never a driver. Type-only imports count.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'rig-not-to-suites',
      severity: 'error',
      comment:
        'rig/ is the controller and the fixture API: it never imports a suite (suites import rig/suite-api)',
      from: { path: '^rig/' },
      to: { path: '^suites/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'import cycles (type-only ones too) make the layers unreadable: move the shared type down',
      from: { path: '^(rig|suites)/' },
      to: { circular: true },
    },
    {
      name: 'suites-use-interfaces',
      severity: 'error',
      comment: 'suites use the board interfaces (the fixture API), never a driver, a simulation or the lab',
      from: { path: '^suites/' },
      to: {
        path: '^rig/(power|sdmux|gpio|qemu|net|lab|sim|runner|cli)/|^rig/board/virtual-board',
        pathNot: '^rig/(power/power-switch|sdmux/sd-mux|gpio/gpio)\\.ts$',
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'node', 'default'] },
  },
};
