import { defineSuite } from '../fixture.js';

export default defineSuite({
  name: 'boot',
  description: 'the boot, stage by stage on the console, then a command and the run image check',
  order: 10,
  default: true,
  healthCheck: true,
});
