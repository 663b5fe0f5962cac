import createDebug from 'debug';

/**
 * The library never prints: it logs through namespaced `debug` loggers (`DEBUG=hw-test:*`) and
 * structured events; only the CLI writes to the terminal. Every log line and report goes through
 * `mask`, so a WiFi PSK or a private key registered here never leaves the process.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  // Short values would mask innocent words everywhere; a real PSK is at least 8 characters.
  if (value && value.length >= 6) secrets.add(value);
}

export function mask(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('********');
  return out;
}

export function knownSecrets(): readonly string[] {
  return [...secrets];
}

export type Logger = (fmt: string, ...args: unknown[]) => void;

export function logger(namespace: string): Logger {
  const d = createDebug(`hw-test:${namespace}`);
  return (fmt, ...args) => {
    if (d.enabled) d(mask(fmt), ...args.map((a) => (typeof a === 'string' ? mask(a) : a)));
  };
}
