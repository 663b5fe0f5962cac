import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  addressCommand,
  configurableItems,
  hostnameExpectation,
  nameLookup,
} from '../../rig/catalog/os-expect.js';
import { loadOsProfile, type OsProfile } from '../../rig/catalog/os-profile.js';
import { ROOT } from '../helpers/cli.js';

describe('what a run may expect of an OS, from its profile alone', function () {
  const ref = loadOsProfile();
  const debian = loadOsProfile(path.join(ROOT, 'os', 'profiles', 'debian-12.yaml'));
  const bare: OsProfile = {
    ...debian,
    configure: { method: 'none' },
    defaultHostname: undefined,
    network: {},
  };

  it('knows which items each method can write', () => {
    expect([...configurableItems(ref)]).to.have.members(['hostname', 'authorizedKeys', 'wifi', 'devMode']);
    expect([...configurableItems(debian)]).to.have.members(['hostname', 'authorizedKeys']);
    expect([...configurableItems(bare)]).to.deep.equal([]);
    const json: OsProfile = {
      ...bare,
      configure: {
        method: 'json-config',
        json: { file: 'config.json', fields: { authorizedKeys: 'os.sshKeys' } },
      },
    };
    expect([...configurableItems(json)]).to.deep.equal(['authorizedKeys']);
    expect([...configurableItems({ ...bare, configure: { method: 'rpi-boot' } })]).to.have.members([
      'hostname',
      'authorizedKeys',
      'wifi',
    ]);
  });

  it("expects the run's hostname, else defaultHostname, else what commands.hostname prints, else none", () => {
    expect(hostnameExpectation(debian, 'hwt-1a2b3c')).to.deep.include({ kind: 'known', name: 'hwt-1a2b3c' });
    const unprovisioned = { ...debian, configure: { method: 'none' as const } };
    const d = hostnameExpectation(unprovisioned, 'hwt-1a2b3c');
    expect(d).to.deep.include({ kind: 'known', name: 'debian' });
    expect(d.kind === 'known' && d.source).to.match(
      /^the profile's defaultHostname: .*configure.method none/,
    );
    expect(
      hostnameExpectation({ ...bare, commands: { ...bare.commands, hostname: 'hostname' } }, 'x'),
    ).to.deep.include({
      kind: 'read',
      command: 'hostname',
    });
    const none = hostnameExpectation(bare, 'x');
    expect(none.kind === 'unknown' && none.reason).to.match(
      /gives neither defaultHostname nor commands.hostname/,
    );
  });

  it('looks names up and reads addresses with the tools the profile lists, in its order', () => {
    expect(nameLookup(debian, 'rig.hwtest')).to.deep.equal({
      tool: 'getent',
      command: 'getent hosts rig.hwtest',
    });
    expect(nameLookup(ref, 'rig.hwtest')).to.deep.equal({ tool: 'nslookup', command: 'nslookup rig.hwtest' });
    expect(nameLookup(bare, 'rig.hwtest')).to.equal(undefined);
    expect(addressCommand(ref)).to.deep.equal({ command: 'ip -4 -o addr show dev eth0' });
    expect(addressCommand(debian)).to.deep.equal({ command: 'ip -4 -o addr show scope global' });
    expect(addressCommand({ ...debian, network: { interface: 'end0', tools: ['ip'] } })).to.deep.equal({
      command: 'ip -4 -o addr show dev end0',
    });
    const no = addressCommand(bare);
    expect('reason' in no && no.reason).to.match(/needs ip on the board.*and has no commands.ipAddr/);
  });

  it("docs/your-os.md's worked profile is the one CI runs on the Debian fixture (a profile from the tutorial alone)", () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'your-os.md'), 'utf8');
    const block = /```yaml\n(name: debian-12\n[\s\S]*?)```/.exec(doc)?.[1];
    expect(block, 'the worked profile in docs/your-os.md').to.be.a('string');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'hwt-doc-')), 'debian-12.yaml');
    writeFileSync(file, block!);
    const fromDoc = { ...loadOsProfile(file), file: '' };
    expect(fromDoc).to.deep.equal({ ...debian, file: '' });
  });
});
