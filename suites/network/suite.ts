import { defineSuite } from '../fixture.js';

export default defineSuite({
  name: 'network',
  description: 'DHCP, mDNS, SSH, DNS and ping, checked from the board and from the rig',
  network: true,
  order: 20,
});
