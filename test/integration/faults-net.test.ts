import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InfraError, TimeoutError, verdictOf } from '../../rig/errors.js';
import { generateRunKey } from '../../rig/net/ssh-key.js';
import { createVirtualNetwork, type VirtualNetwork } from '../../rig/net/virtual-network.js';
import { pidsMentioning, until } from '../helpers/faults.js';
import { netnsMissing } from './net-helpers.js';

/**
 * The fault matrix's dnsmasq row at the driver level, on the real stack: the rig's dnsmasq in a
 * network namespace of the test's own is killed while the board waits for its lease.
 */
describe('fault matrix: dnsmasq is killed (real namespace and dnsmasq)', function () {
  this.timeout(60_000);
  const missing = netnsMissing();
  let stateDir: string;
  let net: VirtualNetwork | undefined;

  before(function () {
    if (missing) this.skip();
  });
  beforeEach(() => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'hwt-faults-net-'));
  });
  afterEach(async () => {
    await net?.teardown();
    net = undefined;
    rmSync(stateDir, { recursive: true, force: true });
  });

  const open = async () =>
    (net = await createVirtualNetwork({
      board: 'faults-net',
      nicModel: 'virtio-net-pci',
      sshKey: generateRunKey(),
      stateDir,
      mode: 'netns',
    }));

  it('a lease wait fails as infra naming dnsmasq, not as the board failing to ask (fail)', async function () {
    const n = await open();
    const conf = `${n.netns!}/dnsmasq.conf`;
    const pids = pidsMentioning(conf);
    expect(pids, `one dnsmasq on ${conf}`).to.have.length(1);
    process.kill(pids[0], 'SIGKILL');
    await until(() => pidsMentioning(conf).length === 0, 'dnsmasq to die');
    const err = await n.waitForLease!({ timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InfraError);
    expect(verdictOf(err)).to.equal('infra');
    expect((err as Error).message).to.match(
      new RegExp(
        `^faults-net: the rig's dnsmasq \\(pid ${pids[0]}\\) exited \\(SIGKILL\\) while the board waited for a DHCP lease; see .*dnsmasq\\.log$`,
      ),
    );
  });

  it('with dnsmasq alive, a board that never asks is still the board failing (fail)', async function () {
    const n = await open();
    const err = await n.waitForLease!({ timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TimeoutError);
    expect(verdictOf(err)).to.equal('fail');
    expect((err as Error).message).to.match(/^no DHCP lease for /);
  });
});
