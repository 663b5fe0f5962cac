import { defineSuite } from '../fixture.js';

export default defineSuite({
  name: 'update-rollback',
  description: 'A/B update, rollback of a bad update, power cuts during the update',
  capabilities: ['update'],
  // The bundle is copied over SSH.
  network: true,
  artifacts: [
    { name: 'update:v2', description: 'an update bundle of a good new version' },
    { name: 'update:health-fails', description: 'an update bundle whose health check fails' },
    { name: 'update:unbootable-update', description: 'an update bundle whose system cannot boot' },
  ],
  options: [
    { name: 'cuts', value: 'N', description: 'power cuts during the update (default: 5)' },
    { name: 'seed', value: 'S', description: 'seed of the cut points, to replay a failure' },
  ],
  order: 40,
});
