import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { OsProfile } from '../../rig/catalog/os-profile.js';
import { command as doctorCommand } from '../../rig/cli/doctor.js';
import { command as imageCommand } from '../../rig/cli/image.js';
import { configureImage } from '../../rig/image/configure.js';
import { parseDebugfsStat } from '../../rig/image/ext.js';
import { findPartition, readPartitionTable } from '../../rig/image/partitions.js';
import { generateRunKey } from '../../rig/net/ssh-key.js';

/**
 * Every provisioning method writes a real image file and is read back with the filesystem's own
 * tools (mtools, debugfs): nothing is mounted, here or in the code under test.
 */
const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
const tools = ['sfdisk', 'mkfs.vfat', 'mkfs.ext4', 'mtype', 'debugfs', 'openssl'];
const missing = tools.find((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

const FAT_START = 2048; // sectors
const EXT_START = 2048 + 16 * 2048;

/** GPT: p1 FAT "boot" (fs label BOOTFS), p2 ext4 "rootfs" (fs label root) with /root and /home/pi (1000:1000). */
function gptImage(dir: string): string {
  const img = path.join(dir, 'gpt.img');
  execFileSync('truncate', ['-s', '64M', img]);
  execFileSync('sfdisk', ['-q', img], {
    input: [
      'label: gpt',
      `start=${FAT_START}, size=16M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="boot"`,
      `start=${EXT_START}, size=40M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="rootfs"`,
      '',
    ].join('\n'),
  });
  execFileSync('mkfs.vfat', ['-n', 'BOOTFS', '--offset', String(FAT_START), img, String(16 * 1024)], {
    stdio: 'ignore',
  });
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'root', '-E', `offset=${EXT_START * 512}`, img, '40M']);
  debugfs(
    img,
    [
      'mkdir /root',
      'sif /root mode 040700',
      'mkdir /etc',
      'mkdir /home',
      'mkdir /home/pi',
      'sif /home/pi uid 1000',
      'sif /home/pi gid 1000',
    ],
    true,
  );
  return img;
}

function debugfs(img: string, cmds: string[], write = false): string {
  return execFileSync('debugfs', [...(write ? ['-w'] : []), '-f', '-', `${img}?offset=${EXT_START * 512}`], {
    input: `${cmds.join('\n')}\n`,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'ignore'],
  });
}

function extCat(img: string, file: string): string {
  return execFileSync('debugfs', ['-R', `cat ${file}`, `${img}?offset=${EXT_START * 512}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

function extStat(img: string, file: string) {
  return parseDebugfsStat(debugfs(img, [`stat ${file}`]));
}

function fatCat(img: string, file: string): string {
  return execFileSync('mtype', ['-i', `${img}@@${FAT_START * 512}`, `::/${file}`], { encoding: 'utf8', env });
}

function profile(configure: OsProfile['configure'], extra: Partial<OsProfile> = {}): OsProfile {
  return {
    name: 'test-os',
    file: '/profiles/test-os.yaml',
    console: { loginPrompt: 'login:', shellPrompt: '#', user: 'root', password: 'a-console-password' },
    ssh: { user: 'root', port: 22 },
    commands: { version: 'true' },
    configure,
    ...extra,
  };
}

const fail = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: Error) => e.message,
  );

describe('provisioning methods, written into GPT images without mounting', function () {
  this.timeout(30_000);
  let dir: string;
  let img: string;
  const key = generateRunKey();

  before(function () {
    if (missing) this.skip();
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hwt-provision-'));
    img = gptImage(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a GPT table: numbers, partition labels, filesystems and their labels', () => {
    const t = readPartitionTable(img);
    expect(t.scheme).to.equal('gpt');
    expect(t.partitions.map((p) => [p.number, p.name, p.offset / 512])).to.deep.equal([
      [1, 'boot', FAT_START],
      [2, 'rootfs', EXT_START],
    ]);
    expect(findPartition(img, 'boot')).to.include({ number: 1, fs: 'vfat', label: 'BOOTFS' });
    expect(findPartition(img, 'BOOTFS').number).to.equal(1);
    const root = findPartition(img, 'root');
    expect(root).to.include({ number: 2, fs: 'ext4', name: 'rootfs' });
    expect(root.freeBytes).to.be.greaterThan(30 << 20);
    expect(findPartition(img, 2).label).to.equal('root');
    expect(() => findPartition(img, 'data')).to.throw(
      /no partition named "data" in its GPT table \(it has 1 "boot" fs "BOOTFS" \(vfat\), 2 "rootfs" fs "root" \(ext4\)\): check configure.partition/,
    );
  });

  it('fat-files: writes onto a FAT partition of a GPT disk, named by its partition label', async () => {
    const os = profile({
      method: 'fat-files',
      partition: 'boot',
      files: { hostname: 'cfg/hostname', authorizedKeys: 'cfg/authorized_keys' },
    });
    const written = await configureImage(img, { hostname: 'gpt-board', sshKey: key.publicKey }, os);
    expect(written.map((w) => w.path)).to.deep.equal(['cfg/hostname', 'cfg/authorized_keys']);
    expect(fatCat(img, 'cfg/hostname')).to.equal('gpt-board\n');
    expect(fatCat(img, 'cfg/authorized_keys')).to.equal(`${key.publicKey}\n`);
  });

  it("ext-files: hostname, root's authorized_keys (0600, .ssh 0700) and a NetworkManager keyfile, read back with debugfs", async () => {
    const os = profile({
      method: 'ext-files',
      partition: 'rootfs',
      files: {
        hostname: '/etc/hostname',
        authorizedKeys: '/root/.ssh/authorized_keys',
        wifi: '/etc/NetworkManager/system-connections/hw-test.nmconnection',
      },
      wifiTemplate:
        '[connection]\nid=hw-test\ntype=wifi\n[wifi]\nssid={ssid}\n[wifi-security]\nkey-mgmt=wpa-psk\npsk={psk}\n',
    });
    await configureImage(
      img,
      { hostname: 'ext-board', sshKey: key.publicKey, wifiSsid: 'lab-net', wifiPsk: 'a long passphrase' },
      os,
    );
    expect(extCat(img, '/etc/hostname')).to.equal('ext-board\n');
    expect(extCat(img, '/root/.ssh/authorized_keys')).to.equal(`${key.publicKey}\n`);
    expect(extStat(img, '/root/.ssh/authorized_keys')).to.include({ mode: 0o600, uid: 0, gid: 0 });
    expect(extStat(img, '/root/.ssh')).to.include({ type: 'directory', mode: 0o700, uid: 0 });
    expect(extStat(img, '/etc/hostname')).to.include({ mode: 0o644, uid: 0 });
    const nm = '/etc/NetworkManager/system-connections/hw-test.nmconnection';
    expect(extCat(img, nm)).to.include('ssid=lab-net').and.include('psk=a long passphrase');
    expect(extStat(img, nm)).to.include({ mode: 0o600, uid: 0 });
    expect(extStat(img, '/etc/NetworkManager')).to.include({ mode: 0o755 });
    // Again: replaced, not refused (a re-run, another hostname).
    await configureImage(img, { hostname: 'ext-board-2' }, os);
    expect(extCat(img, '/etc/hostname')).to.equal('ext-board-2\n');
  });

  it("ext-files: a user's authorized_keys belongs to that user (the owner of its home)", async () => {
    const os = profile({
      method: 'ext-files',
      partition: 2,
      files: {
        authorizedKeys: '/home/pi/.ssh/authorized_keys',
        hostname: { path: '/etc/hostname', mode: '0640', owner: '0:4' },
      },
    });
    await configureImage(img, { sshKey: key.publicKey, hostname: 'owned' }, os);
    expect(extStat(img, '/home/pi/.ssh/authorized_keys')).to.include({ mode: 0o600, uid: 1000, gid: 1000 });
    expect(extStat(img, '/home/pi/.ssh')).to.include({ mode: 0o700, uid: 1000, gid: 1000 });
    expect(extStat(img, '/etc/hostname')).to.include({ mode: 0o640, uid: 0, gid: 4 });
    const noHome = profile({
      method: 'ext-files',
      partition: 2,
      files: { authorizedKeys: '/home/nobody/.ssh/authorized_keys' },
    });
    expect(await fail(configureImage(img, { sshKey: key.publicKey }, noHome))).to.match(
      /neither \/home\/nobody\/.ssh nor its parent exists on partition 2/,
    );
  });

  it('json-config: sets the named fields of config.json and keeps the others (balenaOS style)', async () => {
    const fat = `${img}@@${FAT_START * 512}`;
    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ applicationId: 42, os: { sshKeys: ['ssh-ed25519 AAAAmine'] } }),
    );
    execFileSync('mcopy', ['-i', fat, path.join(dir, 'config.json'), '::/config.json'], { env });
    const os = profile({
      method: 'json-config',
      partition: 'BOOTFS',
      json: {
        file: 'config.json',
        fields: { hostname: 'hostname', authorizedKeys: 'os.sshKeys', devMode: 'developmentMode' },
      },
      files: { wifi: 'system-connections/hw-test' },
      wifiTemplate: '[wifi]\nssid={ssid}\n[wifi-security]\npsk={psk}\n',
    });
    const written = await configureImage(
      img,
      {
        hostname: 'balena-1',
        sshKey: key.publicKey,
        devMode: true,
        wifiSsid: 'lab',
        wifiPsk: 'passphrase-1',
      },
      os,
    );
    expect(written).to.deep.equal([
      { item: 'hostname, authorizedKeys, devMode', path: 'config.json' },
      { item: 'wifi', path: 'system-connections/hw-test' },
    ]);
    expect(JSON.parse(fatCat(img, 'config.json'))).to.deep.equal({
      applicationId: 42,
      os: { sshKeys: ['ssh-ed25519 AAAAmine', key.publicKey] },
      hostname: 'balena-1',
      developmentMode: true,
    });
    expect(fatCat(img, 'system-connections/hw-test')).to.include('psk=passphrase-1');
    // No config.json yet, on the ext partition this time: one is made.
    const onExt = profile({
      method: 'json-config',
      partition: 'rootfs',
      json: { file: '/etc/device.json', fields: { hostname: 'device.name' } },
    });
    await configureImage(img, { hostname: 'ext-json' }, onExt);
    expect(JSON.parse(extCat(img, '/etc/device.json'))).to.deep.equal({ device: { name: 'ext-json' } });
  });

  it('rpi-boot: ssh, userconf.txt with a SHA-512 crypt of the password, custom.toml with hostname, key and WiFi', async () => {
    const os = profile({ method: 'rpi-boot', partition: 1, rpi: { user: 'pi', wifiCountry: 'DE' } });
    const written = await configureImage(
      img,
      { hostname: 'pi-board', sshKey: key.publicKey, wifiSsid: 'lab\\5G', wifiPsk: 'passphrase-2' },
      os,
    );
    expect(written.map((w) => w.path)).to.deep.equal(['ssh', 'userconf.txt', 'custom.toml']);
    expect(fatCat(img, 'ssh')).to.equal('');
    const [user, hash] = fatCat(img, 'userconf.txt').trim().split(':');
    expect(user).to.equal('pi');
    const salt = hash.split('$')[2];
    const again = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], {
      input: 'a-console-password\n',
      encoding: 'utf8',
    }).trim();
    expect(hash).to.equal(again);
    const toml = fatCat(img, 'custom.toml');
    expect(toml).to.include('config_version = 1');
    expect(toml).to.include('[system]\nhostname = "pi-board"');
    expect(toml).to.include(`[ssh]\nenabled = true\nauthorized_keys = [ "${key.publicKey}" ]`);
    expect(toml)
      .to.include('ssid = "lab\\\\5G"')
      .and.include('password = "passphrase-2"')
      .and.include('country = "DE"');
  });

  it('refuses, in one line, a method on the wrong filesystem, a missing partition and a journal to replay', async () => {
    const extOnFat = profile({
      method: 'ext-files',
      partition: 'boot',
      files: { hostname: '/etc/hostname' },
    });
    expect(await fail(configureImage(img, { hostname: 'x' }, extOnFat))).to.match(
      /partition 1 holds vfat, and configure.method ext-files writes ext2 or ext3 or ext4: check configure.partition/,
    );
    const rpiOnExt = profile({ method: 'rpi-boot', partition: 2 });
    expect(await fail(configureImage(img, { hostname: 'x' }, rpiOnExt))).to.match(
      /holds ext4, and configure.method rpi-boot writes vfat/,
    );
    const none = profile({ method: 'fat-files', partition: 7, files: { hostname: 'h' } });
    expect(await fail(configureImage(img, { hostname: 'x' }, none))).to.match(
      /no partition 7 in its GPT table/,
    );
    // The RECOVER flag (incompat 0x4) in the superblock: what an unclean shutdown leaves.
    const at = EXT_START * 512 + 1024 + 96;
    const fd = openSync(img, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] |= 0x4;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    const ext = profile({ method: 'ext-files', partition: 2, files: { hostname: '/etc/hostname' } });
    expect(await fail(configureImage(img, { hostname: 'x' }, ext))).to.match(
      /has a journal to replay: run e2fsck/,
    );
  });

  describe('hw-test image check', () => {
    function io() {
      const outs: string[] = [];
      return {
        outs,
        out: (l: string) => outs.push(l),
        err: (l: string) => outs.push(`ERR ${l}`),
        interactive: false,
        env: {},
        signal: new AbortController().signal,
      };
    }
    function profileFile(body: string): string {
      const f = path.join(dir, 'os.yaml');
      writeFileSync(f, `name: t\nssh: { user: root, port: 22 }\ncommands: { version: v }\n${body}`);
      return f;
    }

    it('passes a profile that fits the image, one line per finding', async () => {
      const f = profileFile(
        'configure: { method: ext-files, partition: rootfs, files: { hostname: /etc/hostname, authorizedKeys: /root/.ssh/authorized_keys } }\n',
      );
      const o = io();
      expect(await imageCommand.main(['check', '--os', f, img], o)).to.equal(0);
      expect(o.outs[0]).to.equal(`image check: ${f} against ${img}`);
      expect(o.outs).to.include('ok      table: GPT with partitions 1, 2');
      expect(o.outs.join('\n')).to.match(
        /ok {6}partition: configure.partition "rootfs" is partition 2 of the GPT table \("rootfs", fs label "root"\): ext4, as ext-files needs/,
      );
      expect(o.outs.join('\n')).to.match(
        /ok {6}files: \/etc\/hostname, \/root\/.ssh\/authorized_keys can be written \(\d+\.\d MiB free\)/,
      );
      expect(o.outs[o.outs.length - 1]).to.equal('no problem found');
      // Nothing was written.
      expect(extStat(img, '/etc/hostname')).to.equal(undefined);
      // The same as hw-test doctor --os PROFILE --image IMAGE.
      const d = io();
      expect(await doctorCommand.main(['--os', f, '--image', img], d)).to.equal(0);
      expect(d.outs).to.deep.equal(o.outs);
    });

    it('exits 2 with a line per problem: a prompt matching nothing, a wrong partition, no room', async () => {
      const f = profileFile(
        "console: { shellPrompt: '.*' }\nconfigure: { method: fat-files, partition: rootfs, files: { hostname: h } }\n",
      );
      const o = io();
      expect(await imageCommand.main(['check', '--os', f, img], o)).to.equal(2);
      const problems = o.outs.filter((l) => l.startsWith('PROBLEM'));
      expect(problems).to.have.length(2);
      expect(problems[0]).to.match(/^PROBLEM prompts: console.shellPrompt \/\.\*\/ matches an empty line/);
      expect(problems[1]).to.match(
        /^PROBLEM configure: .*partition 2 holds ext4, and configure.method fat-files writes vfat/,
      );
      expect(o.outs[o.outs.length - 1]).to.equal('2 problem(s): fix the profile or the image before a run');
      const big = profileFile(
        `configure: { method: fat-files, partition: boot, files: { wifi: w }, wifiTemplate: '${'x'.repeat(20)}{ssid}{psk}' }\n`,
      );
      // Fill the FAT partition: the WiFi file no longer fits.
      const listing = execFileSync('mdir', ['-i', `${img}@@${FAT_START * 512}`, '::/'], {
        env,
        encoding: 'utf8',
      });
      const free = Number(/([\d ]+) bytes free/.exec(listing)![1].replace(/ /g, ''));
      writeFileSync(path.join(dir, 'fill'), Buffer.alloc(free));
      execFileSync('mcopy', ['-i', `${img}@@${FAT_START * 512}`, path.join(dir, 'fill'), '::/fill'], { env });
      const o2 = io();
      expect(await imageCommand.main(['check', '--os', big, img], o2)).to.equal(2);
      expect(o2.outs.join('\n'), o2.outs.join('\n')).to.match(
        /PROBLEM space: partition 1 has 0 KiB free, and w need about 8 KiB$/m,
      );
    });
  });
});
