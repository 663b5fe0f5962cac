import { defineSuite } from 'hw-test/suite';

/** What the suite needs from the run (docs/user-suites.md, "The manifest"). */
export default defineSuite({
  name: 'os-checks',
  description:
    "the root is read-only, the data partition keeps what is written across a power cut and a reboot, the profile's services run",
  // The services run as in the field, on a network (the DHCP client has an interface to serve).
  network: true,
  options: [
    {
      name: 'data-dir',
      value: 'DIR',
      description: "a directory on the data partition (default: the OS profile's update.dataDir)",
    },
  ],
});
