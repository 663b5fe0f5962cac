import path from 'node:path';
import { ROOT, loadYaml } from './schema.js';

/** How to talk to an OS under test; the reference OS is the default, `--os FILE` another one. */
export interface OsProfile {
  name: string;
  description?: string;
  console: {
    loginPrompt: string;
    user?: string | null;
    password?: string | null;
    passwordPrompt?: string;
    shellPrompt: string;
    loginFailed?: string;
  };
  ssh: { user: string; port: number; password?: string | null };
  commands: {
    version: string;
    activeSlot?: string;
    bootenvGet?: string;
    breadcrumbs?: string;
    update?: string;
    reboot?: string;
    ipAddr?: string;
  };
  configure?: {
    method: 'fat-files' | 'none';
    partition?: number;
    files?: { hostname?: string; authorizedKeys?: string; wifi?: string; devMode?: string };
    wifiTemplate?: string;
  };
  defaultHostname?: string;
  update?: { repeatSameVersion?: 'refused' | 'harmless' };
  file: string;
}

export const REFERENCE_OS = path.join(ROOT, 'os', 'profiles', 'reference.yaml');

export function loadOsProfile(file = REFERENCE_OS): OsProfile {
  return { ...loadYaml<Omit<OsProfile, 'file'>>(file, 'os.schema.json', 'OS profile'), file };
}
