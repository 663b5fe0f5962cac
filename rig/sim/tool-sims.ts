import { FakeSpawner, type ToolReply } from './spawner.js';
import type { FakeWaitEnv } from './wait-env.js';
import { GPIOD, SDMUX_CTRL, UHUBCTL, USBSDMUX } from './tool-output.js';

/**
 * Stateful stand-ins for the rig's tools: each answers in the real tool's words (tool-output.ts)
 * from a state it keeps, so a contract test can switch and read back as on hardware. Each is the
 * fake spawner (./spawner.ts) with a tool simulation.
 */
export type ToolSimSpawner = FakeSpawner & { handler: (cmd: string, args: readonly string[]) => ToolReply };

function toolSim(handler: (cmd: string, args: readonly string[]) => ToolReply): ToolSimSpawner {
  return Object.assign(new FakeSpawner({ tool: handler }), { handler });
}

/** libgpiod tools over an in-memory chip `gpiochip0` with `lines` lines (v1 or v2 syntax). */
export function gpiodSim(version: 1 | 2, lines = 32): ToolSimSpawner {
  const levels = new Map<number, number>();
  return toolSim((cmd, args) => {
    const a = [...args];
    if (a[0] === '--version') return { stdout: version === 1 ? GPIOD.versionV1 : GPIOD.versionV2 };
    if (version === 2) a.splice(0, a.indexOf('-c') + 2);
    else a.shift();
    if (cmd === 'gpioget') {
      const off = Number(a[0]);
      if (off >= lines) return { stderr: GPIOD.outOfRangeV2.replace('99', String(off)), code: 1 };
      return { stdout: `${levels.get(off) ?? 0}\n` };
    }
    const [off, v] = a[0].split('=').map(Number) as [number, number];
    if (off >= lines)
      return { stderr: `gpioset: offset ${off} is out of range on chip 'gpiochip0'\n`, code: 1 };
    levels.set(off, v);
    return { stdout: version === 2 ? `Setting line '${off}'...\n` : '' };
  });
}

/** usbsdmux at `sg` whose card shows up at `device` in the fake filesystem on `host`. */
export function usbsdmuxSim(
  env: FakeWaitEnv,
  sg: string,
  device: string,
  opts: { deviceNeverAppears?: boolean } = {},
): ToolSimSpawner {
  let mode: 'host' | 'dut' | 'off' = 'dut';
  return toolSim((_cmd, args) => {
    if (args[0] !== sg)
      return { stderr: USBSDMUX.notAMux.replace(/sg9/g, String(args[0]).replace('/dev/', '')), code: 1 };
    if (args[1] === 'get') return { stdout: `${mode}\n` };
    mode = args[1] as typeof mode;
    if (mode === 'host' && !opts.deviceNeverAppears) env.present.add(device);
    else env.present.delete(device);
    return {};
  });
}

/** sd-mux-ctrl for the SDWire with serial `serial`. */
export function sdwireSim(env: FakeWaitEnv, serial: string, device: string): ToolSimSpawner {
  let ts = false;
  return toolSim((_cmd, args) => {
    if (args[1] !== serial) return { stderr: SDMUX_CTRL.notFound, code: 1 };
    if (args[2] === '--status') return { stdout: ts ? SDMUX_CTRL.statusTs : SDMUX_CTRL.statusDut };
    ts = args[2] === '--ts';
    if (ts) env.present.add(device);
    else env.present.delete(device);
    return {};
  });
}

/** uhubctl with a 4-port hub at UHUBCTL.hub. */
export function uhubctlSim(): ToolSimSpawner {
  const on = new Map<number, boolean>();
  return toolSim((_cmd, args) => {
    if (args[1] !== UHUBCTL.hub) return { stderr: UHUBCTL.noHub.replace('1-9', args[1]), code: 1 };
    const port = Number(args[3]);
    if (port > 4) return { stdout: UHUBCTL.noPort };
    const before = on.get(port) ?? true;
    if (args[4] !== '-a') return { stdout: UHUBCTL.status(port, before) };
    const after = args[5] === 'on';
    on.set(port, after);
    return { stdout: UHUBCTL.switched(port, before, after) };
  });
}

/** A PDU command line: `pdu on|off|state OUTLET`. */
export function pduSim(): ToolSimSpawner {
  const on = new Map<string, boolean>();
  return toolSim((_cmd, args) => {
    if (args[0] === 'state') return { stdout: `outlet ${args[1]}: ${on.get(args[1]) ? 'ON' : 'OFF'}\n` };
    on.set(args[1], args[0] === 'on');
    return { stdout: 'OK\n' };
  });
}
