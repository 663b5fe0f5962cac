import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadOsProfile, type OsProfile } from '../../rig/catalog/os-profile.js';
import { configureMain } from '../../rig/cli/image-configure.js';
import type { CliIo } from '../../rig/cli/io.js';
import { configureImage } from '../../rig/image/configure.js';
import { fatPartitionOffset } from '../../rig/image/fat.js';
import { readPartitionTable } from '../../rig/image/partitions.js';
import { generateRunKey } from '../../rig/net/ssh-key.js';

const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
const tools = ['sfdisk', 'mkfs.vfat', 'mcopy', 'mtype', 'mmd'];
const missing = tools.find((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

/** A small MBR disk like the reference OS: FAT boot p1, ext p2, extended p3 with a FAT logical p5. */
function makeImage(dir: string): string {
  const img = path.join(dir, 'disk.img');
  execFileSync('truncate', ['-s', '64M', img]);
  execFileSync('sfdisk', ['-q', img], {
    input: 'label: dos\nstart=2048, size=32M, type=c\nsize=8M, type=83\ntype=5\nsize=8M, type=c\n',
  });
  execFileSync('mkfs.vfat', ['--offset', '2048', img, '32768'], { stdio: 'ignore' });
  execFileSync('mkfs.vfat', ['--offset', '86016', img, '8192'], { stdio: 'ignore' });
  return img;
}

function mtype(img: string, offset: number, file: string): string {
  return execFileSync('mtype', ['-i', `${img}@@${offset}`, `::/${file}`], { encoding: 'utf8', env });
}

function io(): CliIo & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return {
    outs,
    errs,
    out: (l) => outs.push(l),
    err: (l) => errs.push(l),
    interactive: false,
    env: {},
    signal: new AbortController().signal,
  };
}

describe('image configure (mtools into the boot partition, no mount)', function () {
  this.timeout(20_000);
  let dir: string;
  let img: string;
  let os: OsProfile;

  before(function () {
    if (missing) this.skip();
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hwt-configure-test-'));
    img = makeImage(dir);
    os = loadOsProfile();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads primary and logical partitions from the MBR', () => {
    const table = readPartitionTable(img);
    expect(table.scheme).to.equal('mbr');
    expect(table.partitions.map((p) => [p.number, p.type, p.offset / 512])).to.deep.equal([
      [1, '0c', 2048],
      [2, '83', 67584],
      [3, '05', 83968],
      [5, '0c', 86016],
    ]);
    expect(fatPartitionOffset(img, 1)).to.equal(1048576);
    expect(() => fatPartitionOffset(img, 2)).to.throw(
      /partition 2 is type 83 with no FAT filesystem, not FAT/,
    );
    expect(() => fatPartitionOffset(img, 4)).to.throw(
      /no partition 4 in its MBR table \(it has 1 \(vfat\), 2 \(no known filesystem\), 3 \(no known filesystem\), 5 \(vfat\)\)/,
    );
  });

  it('writes hostname, authorized_keys, the WiFi file and dev-mode where the OS profile says', async () => {
    const key = generateRunKey();
    const written = await configureImage(
      img,
      {
        hostname: 'bench-7',
        sshKey: key.publicKey,
        wifiSsid: 'hwt-x-abc123',
        wifiPsk: 'correct horse battery',
        devMode: true,
      },
      os,
    );
    expect(written.map((w) => w.path)).to.deep.equal([
      'hw-test/hostname',
      'hw-test/authorized_keys',
      'hw-test/wpa_supplicant.conf',
      'hw-test/dev-mode',
    ]);
    expect(mtype(img, 1048576, 'hw-test/hostname')).to.equal('bench-7\n');
    expect(mtype(img, 1048576, 'hw-test/authorized_keys')).to.equal(`${key.publicKey}\n`);
    const wpa = mtype(img, 1048576, 'hw-test/wpa_supplicant.conf');
    expect(wpa)
      .to.include('ssid="hwt-x-abc123"')
      .and.include('psk="correct horse battery"')
      .and.include('key_mgmt=WPA-PSK');
    expect(mtype(img, 1048576, 'hw-test/dev-mode')).to.equal('1\n');
    // Writing again overwrites (a re-run with another hostname).
    await configureImage(img, { hostname: 'bench-8' }, os);
    expect(mtype(img, 1048576, 'hw-test/hostname')).to.equal('bench-8\n');
  });

  it('writes into the partition the profile names, a logical one included', async () => {
    await configureImage(
      img,
      { hostname: 'logical' },
      { ...os, configure: { ...os.configure!, partition: 5 } },
    );
    expect(mtype(img, 86016 * 512, 'hw-test/hostname')).to.equal('logical\n');
    expect(spawnSync('mtype', ['-i', `${img}@@1048576`, '::/hw-test/hostname'], { env }).status).to.not.equal(
      0,
    );
  });

  it('refuses bad input with one line naming it', async () => {
    const err = (p: Promise<unknown>) =>
      p.then(
        () => 'no error',
        (e: Error) => e.message,
      );
    expect(await err(configureImage(img, { hostname: 'bad_name' }, os))).to.match(
      /^hostname "bad_name": use 1 to 63 letters/,
    );
    expect(await err(configureImage(img, { wifiSsid: 'x' }, os))).to.match(
      /WiFi needs both --wifi-ssid and --wifi-psk/,
    );
    expect(await err(configureImage(img, { wifiSsid: 'x', wifiPsk: 'short' }, os))).to.match(
      /passphrase must be 8 to 63/,
    );
    expect(
      await err(configureImage(img, { hostname: 'a' }, { ...os, configure: { method: 'none' } })),
    ).to.match(/has no way to configure an image/);
    const notDisk = path.join(dir, 'zeros');
    writeFileSync(notDisk, Buffer.alloc(4096));
    expect(await err(configureImage(notDisk, { hostname: 'a' }, os))).to.match(
      /zeros: no partition table \(neither MBR nor GPT/,
    );
  });

  describe('hw-test image configure', () => {
    it('configures from the command line and lists what it wrote', async () => {
      const key = generateRunKey();
      writeFileSync(path.join(dir, 'id'), key.privateKey, { mode: 0o600 });
      writeFileSync(path.join(dir, 'id.pub'), `${key.publicKey}\n`);
      writeFileSync(path.join(dir, 'psk'), 'a long passphrase\n');
      const o = io();
      const code = await configureMain(
        [
          '--hostname',
          'cli-board',
          '--ssh-key',
          path.join(dir, 'id'),
          '--wifi-ssid',
          'lab',
          '--wifi-psk-file',
          path.join(dir, 'psk'),
          '--dev-mode',
          img,
        ],
        o,
      );
      expect(o.errs).to.deep.equal([]);
      expect(code).to.equal(0);
      expect(o.outs).to.have.length(4);
      expect(o.outs.join('\n')).to.not.include('a long passphrase');
      expect(mtype(img, 1048576, 'hw-test/authorized_keys')).to.equal(`${key.publicKey}\n`);
      expect(mtype(img, 1048576, 'hw-test/wpa_supplicant.conf')).to.include('psk="a long passphrase"');
      expect(readFileSync(path.join(dir, 'id.pub'), 'utf8')).to.include(key.publicKey);
    });

    const bad: [string, string[], RegExp][] = [
      ['an unknown option', ['--colour', 'x'], /unknown option '--colour'/],
      ['a missing image', ['--hostname', 'a', '/nonexistent.img'], /\/nonexistent\.img: no such image file/],
      [
        'a missing key file',
        ['--ssh-key', '/nonexistent.pub', 'IMG'],
        /--ssh-key \/nonexistent\.pub: no such file/,
      ],
      ['a key file that is no key', ['--ssh-key', 'IMG', 'IMG'], /not an OpenSSH public key/],
      ['nothing to do', ['IMG'], /nothing to write/],
      ['two images', ['--hostname', 'a', 'IMG', 'IMG'], /give exactly one IMAGE \(got 2\)/],
    ];
    for (const [what, args, re] of bad) {
      it(`exits 2 with one line on ${what}`, async () => {
        const o = io();
        const code = await configureMain(
          args.map((a) => (a === 'IMG' ? img : a)),
          o,
        );
        expect(code).to.equal(2);
        expect(o.errs).to.have.length(1);
        expect(o.errs[0]).to.match(re).and.not.include('\n');
      });
    }
  });
});
