import { expect } from 'chai';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BOARDS_DIR,
  boardNames,
  loadAllBoards,
  loadBoard,
  loadBoardFile,
  failurePatterns,
} from '../../rig/catalog/board.js';
import { loadOsProfile } from '../../rig/catalog/os-profile.js';
import { mask } from '../../rig/log.js';
import { InputError } from '../../rig/errors.js';

function tmpBoard(name: string, text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-board-'));
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

const good = readFileSync(path.join(BOARDS_DIR, 'odroid-xu4.yaml'), 'utf8');

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('board catalogue', function () {
  it('ships the virtual and the real boards, and every file validates', function () {
    expect(boardNames()).to.include.members([
      'qemu-x86-64',
      'qemu-armv7',
      'odroid-xu4',
      'raspberrypi3',
      'raspberrypi4-64',
      'intel-nuc',
      'beaglebone-black',
    ]);
    const boards = loadAllBoards();
    for (const b of boards) {
      expect(b.timeouts.login, b.name).to.be.greaterThan(0);
      if (b.virtual) expect(b.qemu, `${b.name} has a qemu block`).to.exist;
    }
  });

  it('names the file, the field path and what was expected when a field is missing', function () {
    const file = tmpBoard('odroid-xu4', good.replace(/^ {2}baud: 115200\n/m, ''));
    const err = errorOf(() => loadBoardFile(file));
    expect(err.message).to.equal(`${file}: serial.baud is required`);
    expect(err.message.split('\n')).to.have.length(1);
  });

  it('lists the allowed values of an enum', function () {
    const err = errorOf(() =>
      loadBoardFile(tmpBoard('odroid-xu4', good.replace('medium: sd', 'medium: floppy'))),
    );
    expect(err.message).to.match(/: boot\.medium must be one of "sd", "usb", "flasher", "emmc", "disk"$/);
  });

  it('rejects an unknown (misspelt) field by name', function () {
    const err = errorOf(() =>
      loadBoardFile(tmpBoard('odroid-xu4', good.replace('  bootloader: 15', '  bootloadr: 15'))),
    );
    expect(err.message).to.match(/: timeouts\.bootloadr is not a known field/);
  });

  it('rejects a marker that is not a valid regular expression, with its index', function () {
    const err = errorOf(() =>
      loadBoardFile(
        tmpBoard('odroid-xu4', good.replace("pattern: 'dwmmc_exynos.*: Timeout'", "pattern: 'dwmmc[('")),
      ),
    );
    expect(err.message).to.match(/: failurePatterns\[0\]\.pattern must be a valid regex$/);
  });

  it('gives the line of a YAML syntax error', function () {
    const err = errorOf(() => loadBoardFile(tmpBoard('odroid-xu4', 'name: odroid-xu4\narch: [armv7\n')));
    expect(err.message).to.match(/odroid-xu4\.yaml:\d+: invalid YAML: /);
  });

  it('requires the name to match the file name', function () {
    const err = errorOf(() => loadBoardFile(tmpBoard('odroid-xu5', good)));
    expect(err.message).to.match(/: name must be "odroid-xu5" \(the file's name\), not "odroid-xu4"$/);
  });

  it('lists the known boards for an unknown one', function () {
    const err = errorOf(() => loadBoard('nope'));
    expect(err.message).to.match(/^unknown board "nope": known boards are .*qemu-x86-64/);
  });

  it("arms LAVA's failure patterns: a panic is fatal, Oops/BUG/WARNING are recorded", function () {
    const p = failurePatterns(loadBoard('odroid-xu4'));
    const sev = (line: string) => p.find((x) => x.pattern.test(line))?.severity;
    expect(sev('[    5.5] Kernel panic - not syncing: VFS: Unable to mount root fs')).to.equal('fatal');
    expect(sev('[   12.0] Oops: 0000 [#1] SMP')).to.equal('record');
    expect(sev('[    3.2] BUG: unable to handle page fault')).to.equal('record');
    expect(sev('[    1.1] WARNING: CPU: 0 PID: 1 at kernel/foo.c:12')).to.equal('record');
    expect(sev('[   1.0] dwmmc_exynos 12200000.mmc: Timeout sending command')).to.equal('record');
    expect(sev('hwtest login:')).to.equal(undefined);
    expect(sev('echo "no BUG here"')).to.equal(undefined);
  });
});

describe('OS profile', function () {
  it('loads the reference OS profile', function () {
    const os = loadOsProfile();
    expect(os.console.user).to.equal('root');
    expect(new RegExp(os.console.shellPrompt, 'm').test('root@hwt-1a2b3c:~# ')).to.equal(true);
    expect(new RegExp(os.console.loginPrompt, 'm').test('hwtest login: ')).to.equal(true);
  });

  it('names the field of a bad OS profile', function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-os-'));
    const file = path.join(dir, 'os.yaml');
    writeFileSync(
      file,
      'name: x\nconsole: { loginPrompt: "login:" }\nssh: { user: root, port: 22 }\ncommands: {}\n',
    );
    expect(errorOf(() => loadOsProfile(file)).message).to.equal(`${file}: commands.version is required`);
    writeFileSync(
      file,
      'name: x\nssh: { user: root, port: 22 }\ncommands: { version: v }\nconfigure: { method: ext }\n',
    );
    expect(errorOf(() => loadOsProfile(file)).message).to.match(
      /: configure.method must be one of "fat-files", "ext-files", "json-config", "rpi-boot", "none"$/,
    );
  });

  it('fills in prompt defaults that match busybox getty, agetty (systemd), bash, ash and dash', function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-os-'));
    const file = path.join(dir, 'os.yaml');
    writeFileSync(file, 'name: minimal\nssh: { user: root, port: 22 }\ncommands: { version: "uname -r" }\n');
    const p = loadOsProfile(file);
    expect(p.console.user).to.equal('root');
    const login = new RegExp(p.console.loginPrompt, 'm');
    for (const l of ['hwtest login: ', 'debian login: ', 'raspberrypi login:'])
      expect(login.test(l), l).to.equal(true);
    const shell = new RegExp(p.console.shellPrompt, 'm');
    for (const l of ['root@debian:~# ', '~ # ', '# ', 'pi@raspberrypi:~ $ '])
      expect(shell.test(l), l).to.equal(true);
    expect(new RegExp(p.console.passwordPrompt!, 'm').test('Password: ')).to.equal(true);
    expect(p.console.loginFailed).to.equal('Login incorrect');
    expect(p.network).to.deep.equal({ dhcpHostname: true, tools: [] });
  });

  it('takes passwords from the environment (masked) and a key path relative to the profile', function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-os-'));
    const file = path.join(dir, 'os.yaml');
    writeFileSync(
      file,
      'name: x\nconsole: { passwordEnv: HWT_TEST_PW }\nssh: { user: root, port: 22, key: keys/id, password: long-enough-pw }\ncommands: { version: v }\n',
    );
    expect(errorOf(() => loadOsProfile(file, {})).message).to.equal(
      `${file}: console.passwordEnv names HWT_TEST_PW, which is not set in the environment`,
    );
    const p = loadOsProfile(file, { HWT_TEST_PW: 'from-the-environment' });
    expect(p.console.password).to.equal('from-the-environment');
    expect(p.ssh.key).to.equal(path.join(dir, 'keys', 'id'));
    expect(mask('pw from-the-environment and long-enough-pw')).to.equal('pw ******** and ********');
  });
});
