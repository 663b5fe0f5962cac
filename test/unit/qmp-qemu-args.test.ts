import { expect } from 'chai';
import { loadBoard } from '../../rig/catalog/board.js';
import { HwTestError } from '../../rig/errors.js';
import { chooseAccel, netdevArgs, qemuArgs, QemuMachine } from '../../rig/qemu/qemu.js';
import { FakeSpawner } from '../../rig/sim/spawner.js';
import type { ProcessHandle } from '../../rig/util/spawn.js';
import { PassThrough } from 'node:stream';

const arm = loadBoard('qemu-armv7');
const x86 = loadBoard('qemu-x86-64');

/** The value after a flag, e.g. `-bios`. */
function after(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
}

describe('QEMU command line', () => {
  it('builds an armv7 board from its qemu: block: U-Boot firmware, virtio-mmio disk, paused, pty, QMP', () => {
    const args = qemuArgs({ type: arm, disk: '/var/lib/hw-test/b1.img' }, '/tmp/x/qmp.sock', 'tcg');
    expect(after(args, '-machine')).to.deep.equal(['virt']);
    expect(after(args, '-cpu')).to.deep.equal(['cortex-a15']);
    expect(after(args, '-bios')).to.deep.equal(['/usr/lib/u-boot/qemu_arm/u-boot.bin']);
    expect(after(args, '-accel')).to.deep.equal(['tcg']);
    expect(after(args, '-m')).to.deep.equal(['512']);
    expect(after(args, '-display')).to.deep.equal(['none']);
    expect(args).to.include('-S');
    expect(args).not.to.include('-nographic');
    expect(after(args, '-chardev')).to.deep.equal(['pty,id=con']);
    expect(after(args, '-serial')).to.deep.equal(['chardev:con']);
    expect(after(args, '-qmp')).to.deep.equal(['unix:/tmp/x/qmp.sock,server=on,wait=off']);
    expect(after(args, '-drive')).to.deep.equal(['file=/var/lib/hw-test/b1.img,format=raw,if=none,id=sd']);
    expect(after(args, '-device')).to.deep.equal([
      'virtio-blk-device,drive=sd',
      'virtio-net-device,netdev=net0',
    ]);
    expect(after(args, '-netdev')).to.deep.equal(['user,id=net0']);
  });

  it('gives x86-64 no -bios (SeaBIOS boots GRUB from the disk) and its PCI devices', () => {
    const args = qemuArgs({ type: x86, disk: 'd.img' }, 's', 'tcg');
    expect(args).not.to.include('-bios');
    expect(args).not.to.include('-cpu');
    expect(after(args, '-device')).to.deep.equal(['virtio-blk-pci,drive=sd', 'virtio-net-pci,netdev=net0']);
  });

  it('gives a flasher board its internal disk, and the card only while it is in, booted first', () => {
    const flasher = loadBoard('qemu-x86-64-flasher');
    let cardIn = true;
    const opts = { type: flasher, disk: 'sd.img', internalDisk: 'internal.img', cardPresent: () => cardIn };
    let args = qemuArgs(opts, 's', 'tcg');
    expect(after(args, '-drive')).to.deep.equal([
      'file=sd.img,format=raw,if=none,id=sd',
      'file=internal.img,format=raw,if=none,id=internal',
    ]);
    expect(after(args, '-device').slice(0, 2)).to.deep.equal([
      'virtio-blk-pci,drive=sd,bootindex=0',
      'virtio-blk-pci,drive=internal,bootindex=1',
    ]);
    cardIn = false;
    args = qemuArgs(opts, 's', 'tcg');
    expect(after(args, '-drive')).to.deep.equal(['file=internal.img,format=raw,if=none,id=internal']);
  });

  it('takes overrides, network arguments from the caller and extra arguments', () => {
    const netArgs = netdevArgs(x86, 'tap,ifname=hwt-tap0,script=no,downscript=no');
    const args = qemuArgs(
      {
        type: x86,
        disk: 'd.img',
        memoryMb: 1024,
        smp: 2,
        cpu: 'max',
        firmware: '/fw.bin',
        netArgs,
        extraArgs: ['-rtc', 'base=utc'],
      },
      's',
      'tcg',
    );
    expect(after(args, '-m')).to.deep.equal(['1024']);
    expect(after(args, '-smp')).to.deep.equal(['2']);
    expect(after(args, '-cpu')).to.deep.equal(['max']);
    expect(after(args, '-bios')).to.deep.equal(['/fw.bin']);
    expect(after(args, '-netdev')).to.deep.equal(['tap,id=net0,ifname=hwt-tap0,script=no,downscript=no']);
    expect(args.slice(-2)).to.deep.equal(['-rtc', 'base=utc']);
  });

  it('refuses a board with no qemu: block, naming its file', () => {
    const rpi = loadBoard('raspberrypi4-64');
    expect(() => qemuArgs({ type: rpi }, 's')).to.throw(
      HwTestError,
      /raspberrypi4-64\.yaml: board raspberrypi4-64 has no qemu: block/,
    );
  });

  it('uses TCG unless HW_TEST_KVM=1, and never KVM for a foreign architecture', () => {
    expect(chooseAccel(x86, {})).to.equal('tcg');
    expect(chooseAccel(arm, { HW_TEST_KVM: '1' })).to.equal('tcg');
  });

  it('starts QEMU through the injected spawner, behind the wrapper, and fails fast quoting its stderr', async () => {
    const spawner = new DyingSpawner(
      "qemu-system-arm: -drive file=d.img,format=raw,if=none,id=sd: Could not open 'd.img': No such file or directory\n",
    );
    const qemu = new QemuMachine({
      type: arm,
      disk: 'd.img',
      spawner,
      wrapper: ['ip', 'netns', 'exec', 'hwt-b1'],
    });
    const err = await qemu.start({ timeoutMs: 60000 }).then(
      () => 'started',
      (e: unknown) => e,
    );
    expect(spawner.calls).to.have.length(1);
    expect(spawner.calls[0]).to.match(/^ip netns exec hwt-b1 qemu-system-arm -name qemu-armv7 /);
    expect(err).to.be.instanceOf(HwTestError);
    expect((err as HwTestError).class).to.equal('infra');
    expect((err as HwTestError).message).to.equal(
      "qemu-armv7: QEMU exited at start (1): qemu-system-arm: -drive file=d.img,format=raw,if=none,id=sd: Could not open 'd.img': No such file or directory",
    );
    expect(qemu.running).to.equal(false);
  });
});

/** A spawner whose process prints to stderr and exits 1 at once, as QEMU does on a bad argument. */
class DyingSpawner extends FakeSpawner {
  constructor(private readonly stderrText: string) {
    super();
  }

  override start(cmd: string, args: readonly string[]): ProcessHandle {
    const h = super.start(cmd, args);
    const stderr = new PassThrough();
    let exit: (v: { code: number | null; signal: NodeJS.Signals | null }) => void = () => {};
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => (exit = r));
    let running = true;
    setImmediate(() => {
      stderr.end(this.stderrText, () => {
        running = false;
        exit({ code: 1, signal: null });
      });
    });
    return {
      ...h,
      pid: undefined,
      command: h.command,
      stdout: null,
      stdin: null,
      stderr,
      exited,
      get running() {
        return running;
      },
      kill: () => {},
      stop: async () => {
        await exited;
      },
    };
  }
}
