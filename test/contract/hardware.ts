import { existsSync } from 'node:fs';
import path from 'node:path';
import { LABS_DIR, QEMU_SERIAL, allInstances, loadLab, type LabInstance } from '../../rig/catalog/lab.js';
import { loadBoard } from '../../rig/catalog/board.js';

/**
 * Real hardware for the contract tests: the instances of the lab file in HW_TEST_LAB (default:
 * the shipped example, whose devices this machine does not have). A test on an instance runs
 * only when its devices are present and HW_TEST_HARDWARE=1 (it switches real boards); otherwise
 * it is pending, with the reason in its title.
 */
export function hardwareInstances(): { inst: LabInstance; missing: string | undefined }[] {
  const file = process.env.HW_TEST_LAB ?? path.join(LABS_DIR, 'example-odroid-rpi.yaml');
  return allInstances(loadLab(file))
    .filter((inst) => inst.serial.device !== QEMU_SERIAL)
    .map((inst) => ({ inst, missing: missingDevices(inst) }));
}

export function missingDevices(inst: LabInstance): string | undefined {
  const absent: string[] = [];
  if (!existsSync(inst.serial.device)) absent.push(inst.serial.device);
  const m = inst.mux;
  if (m?.driver === 'usbsdmux' && !existsSync(m.sg)) absent.push(m.sg);
  const p = inst.power;
  if (p.driver === 'gpio-relay' && (p.gpio ?? 'sysfs') === 'sysfs' && !existsSync('/sys/class/gpio'))
    absent.push('/sys/class/gpio');
  if (absent.length) return `absent: ${absent.join(', ')}`;
  if (process.env.HW_TEST_HARDWARE !== '1')
    return 'devices present; set HW_TEST_HARDWARE=1 to switch real boards';
  loadBoard(inst.type);
  return undefined;
}
