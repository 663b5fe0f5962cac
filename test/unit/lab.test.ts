import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  LABS_DIR,
  VIRTUAL_LAB,
  allInstances,
  findInstance,
  instancesOfType,
  labPath,
  loadLab,
} from '../../rig/catalog/lab.js';
import { HwTestError } from '../../rig/errors.js';

describe('lab wiring file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hwt-lab-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (text: string) => {
    const f = path.join(dir, 'lab.yaml');
    writeFileSync(f, text);
    return f;
  };
  const inputError = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).to.be.instanceOf(HwTestError);
      expect((err as HwTestError).class).to.equal('input');
      return (err as Error).message;
    }
    return expect.fail('no error');
  };

  it('loads the shipped lab files: the virtual rig and the real-rig examples', () => {
    const virtual = loadLab(VIRTUAL_LAB);
    expect(Object.keys(virtual.boards)).to.include('qemu-x86-64-rig');
    const example = loadLab(path.join(LABS_DIR, 'example-odroid-rpi.yaml'));
    expect(example.boards['odroid-xu4-1'].power).to.include({
      driver: 'gpio-relay',
      line: 17,
      activeLow: true,
    });
    expect(example.boards['raspberrypi3-1'].mux).to.include({ driver: 'sdwire', serial: 'sd-wire_11' });
    expect(loadLab(path.join(LABS_DIR, 'example-autohat.yaml')).boards['beaglebone-black-1'].mux).to.include({
      driver: 'gpio-mux',
    });
  });

  it('--lab wins over HW_TEST_LAB; neither gives undefined', () => {
    expect(labPath('/x/lab.yaml', { HW_TEST_LAB: '/y/lab.yaml' })).to.equal('/x/lab.yaml');
    expect(labPath(undefined, { HW_TEST_LAB: '/y/lab.yaml' })).to.equal('/y/lab.yaml');
    expect(labPath(undefined, {})).to.equal(undefined);
  });

  it('several instances of one type; --board takes an instance name, or a type with one instance', () => {
    const f = write(`boards:
  odroid-xu4-1: { type: odroid-xu4, power: { driver: uhubctl, location: 1-1, port: 1 }, serial: { device: /dev/ttyUSB0 } }
  odroid-xu4-2: { type: odroid-xu4, power: { driver: uhubctl, location: 1-1, port: 2 }, serial: { device: /dev/ttyUSB1 } }
  rpi3: { type: raspberrypi3, power: { driver: uhubctl, location: 1-1, port: 3 }, serial: { device: /dev/ttyUSB2 } }
`);
    const lab = loadLab(f);
    expect(instancesOfType(lab, 'odroid-xu4').map((i) => i.name)).to.deep.equal([
      'odroid-xu4-1',
      'odroid-xu4-2',
    ]);
    expect(allInstances(lab)).to.have.length(3);
    expect(findInstance(lab, 'odroid-xu4-2').serial.device).to.equal('/dev/ttyUSB1');
    expect(findInstance(lab, 'raspberrypi3').name).to.equal('rpi3');
    expect(inputError(() => findInstance(lab, 'odroid-xu4'))).to.equal(
      `${f}: board type odroid-xu4 has 2 instances here (odroid-xu4-1, odroid-xu4-2); name one with --board`,
    );
  });

  it('a board not wired here is bad input naming the lab file and the wiring docs', () => {
    const msg = inputError(() => findInstance(loadLab(VIRTUAL_LAB), 'odroid-xu4'));
    expect(msg).to.equal(
      `${VIRTUAL_LAB}: no board "odroid-xu4" is wired on this host (wired: qemu-armv7-rig, qemu-x86-64-flasher-rig, qemu-x86-64-rig); add it to the lab file, see docs/wiring.md`,
    );
  });

  it('bad files get one line naming the file and the field', () => {
    const base = (power: string, extra = '') =>
      write(
        `boards:\n  b1:\n    type: odroid-xu4\n    power: ${power}\n    serial: { device: /dev/ttyUSB0 }\n${extra}`,
      );
    expect(inputError(() => loadLab(base('{ driver: uhubctl, location: 1-1 }')))).to.match(
      /lab\.yaml: boards\.b1\.power\.port is required$/,
    );
    expect(inputError(() => loadLab(base('{ driver: relay }')))).to.match(
      /boards\.b1\.power\.driver must be one of "gpio-relay", "sim-gpio-relay"/,
    );
    expect(
      inputError(() => loadLab(base('{ driver: gpio-relay, chip: gpiochip0, line: 17, activelow: true }'))),
    ).to.match(/boards\.b1\.power\.activelow is not a known field/);
    expect(
      inputError(() =>
        loadLab(
          base(
            '{ driver: uhubctl, location: 1-1, port: 1 }',
            '    mux: { driver: usbsdmux, sg: /dev/sg2 }\n',
          ),
        ),
      ),
    ).to.match(/boards\.b1\.mux\.device is required$/);
    expect(
      inputError(() =>
        loadLab(
          write('boards:\n  b1: { type: odroid-xu5, power: { driver: qemu }, serial: { device: qemu } }\n'),
        ),
      ),
    ).to.match(/boards\.b1\.type "odroid-xu5" is not a board type; known types are .*odroid-xu4/);
    expect(
      inputError(() =>
        loadLab(
          write(
            'boards:\n  b1: { type: qemu-x86-64, power: { driver: sim-gpio-relay, line: 1 }, serial: { device: /dev/ttyUSB0 } }\n',
          ),
        ),
      ),
    ).to.match(/boards\.b1\.serial\.device must be "qemu" for a virtual board/);
    expect(inputError(() => loadLab(path.join(dir, 'missing.yaml')))).to.match(
      /missing\.yaml: cannot read lab file \(ENOENT\)/,
    );
    expect(inputError(() => loadLab(write('boards: [\n')))).to.match(/lab\.yaml:\d+: invalid YAML/);
  });

  it("the board's access point: the rig's own or the lab's, with the fields each needs", () => {
    const real = (wifi: string) =>
      write(
        `boards:\n  b1:\n    type: raspberrypi3\n    power: { driver: uhubctl, location: 1-1, port: 1 }\n    serial: { device: /dev/ttyUSB0 }\n    wifi: ${wifi}\n`,
      );
    const virtual = (wifi: string) =>
      write(
        `boards:\n  b1:\n    type: qemu-x86-64\n    power: { driver: sim-gpio-relay, line: 1 }\n    serial: { device: qemu }\n    wifi: ${wifi}\n`,
      );
    const ok = loadLab(real('{ apInterface: wlan1, countryCode: DE, band: 5GHz, channel: 36 }'));
    expect(ok.boards.b1.wifi).to.deep.equal({
      apInterface: 'wlan1',
      countryCode: 'DE',
      band: '5GHz',
      channel: 36,
    });
    expect(
      loadLab(real('{ ssid: lab-ap, subnet: 192.168.50.0/24, rigAddress: 192.168.50.2 }')).boards.b1.wifi
        ?.ssid,
    ).to.equal('lab-ap');
    expect(
      loadLab(virtual('{ ssid: lab-ap, subnet: 10.50.0.0/24, rigAddress: 10.50.0.1 }')).boards.b1.wifi?.ssid,
    ).to.equal('lab-ap');
    expect(inputError(() => loadLab(real('{ countryCode: de, apInterface: wlan1 }')))).to.match(
      /boards\.b1\.wifi\.countryCode must match pattern/,
    );
    expect(inputError(() => loadLab(real('{ apInterface: wlan1, band: 5GHz }')))).to.match(
      /wifi\.countryCode: a 5GHz access point needs the regulatory domain/,
    );
    expect(inputError(() => loadLab(real('{ apInterface: wlan1, channel: 36 }')))).to.match(
      /boards\.b1\.wifi\.channel: 36 is not a 2\.4GHz channel \(1 to 14\); see docs\/wiring\.md$/,
    );
    expect(inputError(() => loadLab(real('{ apInterface: wlan1, ssid: lab-ap }')))).to.match(
      /wifi\.ssid: give apInterface \(the rig's own AP\) or ssid \(the lab's AP\), not both/,
    );
    expect(inputError(() => loadLab(real('{ countryCode: DE }')))).to.match(
      /wifi\.apInterface: name the rig's WiFi interface for hostapd, or give ssid/,
    );
    expect(inputError(() => loadLab(real('{ ssid: lab-ap, subnet: 192.168.50.0/24 }')))).to.match(
      /wifi\.rigAddress: the lab's AP needs its subnet and this host's address on it/,
    );
    expect(
      inputError(() => loadLab(real('{ ssid: lab-ap, subnet: 192.168.50.0/24, rigAddress: 192.168.51.2 }'))),
    ).to.match(/wifi\.rigAddress: 192\.168\.51\.2 is not in 192\.168\.50\.0\/24/);
    expect(inputError(() => loadLab(virtual('{ apInterface: wlan1 }')))).to.match(
      /wifi\.apInterface: a virtual board's AP radio is simulated in the board itself/,
    );
  });
});
