import { defineSuite } from '../fixture.js';

export default defineSuite({
  name: 'update-rollback',
  description: 'update, rollback of a bad update, power cuts during the update (A/B slots or deployments)',
  capabilities: ['update'],
  // An OS the profile cannot update skips the suite (lib/settings.ts REQUIRED_COMMANDS, which also
  // needs `booted`, accepted under its old name `activeSlot`): no bundle is asked for then.
  osCommands: ['update', 'reboot', 'sha256'],
  // The bundle is copied over SSH.
  network: true,
  // The image's own bundles (docs/updates.md). A board whose default image is the reference OS
  // offers the reference build's bundles in their place (`fallback`), for the reference profile only.
  artifacts: [
    {
      name: 'update-bundle',
      description: 'a good update bundle of the image under test',
      option: 'update-bundle',
      fallback: 'update:v2',
      // Nothing to test without it; the broken ones have the OS profile's update.sabotage instead.
      required: true,
    },
    {
      name: 'update-bundle-unbootable',
      description: 'an update bundle whose system cannot boot (test 2; else update.sabotage.unbootable)',
      option: 'update-bundle-unbootable',
      fallback: 'update:unbootable-update',
    },
    {
      name: 'update-bundle-unhealthy',
      description: 'an update bundle whose health check fails (test 3; else update.sabotage.unhealthy)',
      option: 'update-bundle-unhealthy',
      fallback: 'update:health-fails',
    },
  ],
  options: [
    { name: 'cuts', value: 'N', description: 'power cuts during the update (default: 5)' },
    { name: 'seed', value: 'S', description: 'seed of the cut points, to replay a failure' },
    {
      name: 'update-bundle-version',
      value: 'V',
      description: 'the version --update-bundle installs (default: learned from test 1)',
    },
  ],
  order: 40,
});
