import type { OsProfile } from '../../catalog/os-profile.js';
import { InputError } from '../../errors.js';
import type { ProvisionMethod } from './method.js';

/** The profile's provisioning method, or one line saying it has none. */
export async function methodFor(os: OsProfile): Promise<ProvisionMethod> {
  const c = os.configure;
  if (!c || c.method === 'none') {
    throw new InputError(
      `${os.file}: OS profile "${os.name}" has no way to configure an image (configure.method is ${c?.method ?? 'missing'})`,
      { file: os.file, field: 'configure' },
    );
  }
  const methods: Record<string, () => Promise<ProvisionMethod>> = {
    'fat-files': async () => (await import('./fat-files.js')).fatFiles,
    'ext-files': async () => (await import('./ext-files.js')).extFiles,
    'json-config': async () => (await import('./json-config.js')).jsonConfig,
    'rpi-boot': async () => (await import('./rpi-boot.js')).rpiBoot,
  };
  return methods[c.method]();
}
