import { defineSuite } from '../fixture.js';

export default defineSuite({
  name: 'wifi',
  description: "the board joins the rig's access point with this run's credentials",
  capabilities: ['wifi'],
  // The checks run over SSH on the wired network; the association itself over the air.
  network: true,
  accessPoint: true,
  order: 30,
});
