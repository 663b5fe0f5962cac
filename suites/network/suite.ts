import { defineSuite } from '../fixture.js';

export default defineSuite({
  name: 'network',
  description:
    'DHCP, mDNS, SSH, DNS, route and ping, a 10 MiB transfer and the advertised services, from both sides',
  network: true,
  order: 20,
});
