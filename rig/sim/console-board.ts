import { PassThrough, Writable } from 'node:stream';
import type { PowerState, PowerSwitch } from '../power/power-switch.js';
import { StreamConsole } from '../console/stream-console.js';
import { failurePatterns, loadBoard, type BoardType } from '../catalog/board.js';
import { loadOsProfile } from '../catalog/os-profile.js';

/** What one power-on of the simulated board prints, chunk by chunk. */
export type BootScript = string[];

export const GOOD_BOOT: BootScript = [
  'SeaBIOS\r\nhw-test: bootloader slot=A bootcount=0 upgrade_available=0\r\n',
  '[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org)\r\n',
  '[    1.2] Run /init as init process\r\nhw-test: userspace up version=v1 slot=A\r\n',
  // The prompt interleaved with a late kernel message: the login must still be found.
  '\r\nhwtest login: [    8.127522] random: crng init done\r\n',
];

/**
 * A board behind a console stream: it prints its boot script at each power on and plays a busybox
 * shell's part in the login and command conversation (the framing the console shell uses).
 */
export class SimBoard {
  readonly fromBoard = new PassThrough();
  readonly console: StreamConsole;
  readonly type: BoardType;
  readonly os = loadOsProfile();
  powerOns = 0;
  private timers: NodeJS.Timeout[] = [];
  private state: PowerState = 'off';
  password = 'hwtest';
  private awaitingPassword = false;

  constructor(
    private readonly boots: BootScript[],
    timeoutsS = 1,
  ) {
    const t = loadBoard('qemu-x86-64');
    this.type = {
      ...t,
      timeouts: {
        ...t.timeouts,
        bootloader: timeoutsS,
        kernel: timeoutsS,
        userspace: timeoutsS,
        login: timeoutsS,
        command: timeoutsS,
      },
    };
    const toBoard = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        this.typed(chunk.toString());
        cb();
      },
    });
    this.console = new StreamConsole({
      name: 'sim console',
      input: this.fromBoard,
      output: toBoard,
      failurePatterns: failurePatterns(this.type),
    });
  }

  readonly power: PowerSwitch = {
    name: 'sim power',
    on: () => {
      if (this.state === 'on') return Promise.resolve();
      this.state = 'on';
      const script = this.boots[Math.min(this.powerOns, this.boots.length - 1)] ?? [];
      this.powerOns += 1;
      script.forEach((chunk, i) =>
        this.timers.push(setTimeout(() => this.fromBoard.write(chunk), 20 * (i + 1))),
      );
      return Promise.resolve();
    },
    off: () => {
      this.state = 'off';
      this.timers.forEach(clearTimeout);
      this.timers = [];
      return Promise.resolve();
    },
    cycle: async () => {
      await this.power.off();
      await this.power.on();
    },
    state: () => Promise.resolve(this.state),
    close: () => Promise.resolve(),
  };

  private say(text: string): void {
    setImmediate(() => this.fromBoard.write(text));
  }

  private typed(text: string): void {
    const line = text.replace(/\n$/, '');
    const framed = /^echo; echo (\S+)-start; (.*); printf '\\n%s=%d\\n' (\S+)-rc \$\?$/.exec(line);
    if (framed) {
      const [, id, cmd] = framed;
      const [out, code] = this.run(cmd);
      this.say(`\r\n${id}-start\r\n${out}${out ? '\r\n' : ''}\r\n${id}-rc=${code}\r\nroot@hwtest:~# `);
    } else if (this.awaitingPassword) {
      this.awaitingPassword = false;
      this.say(line === this.password ? '\r\nroot@hwtest:~# ' : '\r\nLogin incorrect\r\nhwtest login: ');
    } else if (line === 'root') {
      this.awaitingPassword = true;
      this.say('root\r\nPassword: ');
    } else this.say('\r\nroot@hwtest:~# ');
  }

  private run(cmd: string): [string, number] {
    if (cmd === 'uname -m; uname -r') return ['x86_64\r\n6.1.0-50-amd64', 0];
    if (cmd === 'false') return ['', 1];
    if (cmd.includes('VERSION_ID')) return ['v1', 0];
    return [`sh: ${cmd}: not found`, 127];
  }
}
