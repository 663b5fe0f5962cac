import createDebug from 'debug';

/**
 * The library never prints: it logs through namespaced `debug` loggers (`DEBUG=hw-test:*`) and
 * structured events; only the CLI writes to the terminal. Every log line and report goes through
 * `mask`, so a WiFi PSK or a private key registered here never leaves the process.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  // Short values would mask innocent words everywhere; a real PSK is at least 8 characters.
  if (!value || value.length < 6) return;
  secrets.add(value);
  // A multi-line secret (a private key) reaches line-based sinks (serial.log, a console excerpt)
  // one line at a time: each line of its body is a secret of its own.
  if (value.includes('\n')) {
    for (const line of value.split(/\r?\n/)) {
      const t = line.trim();
      if (t.length >= 16 && !t.startsWith('-----')) secrets.add(t);
    }
  }
}

export function mask(text: string): string {
  let out = text.includes('://') ? text.replace(URL_IN_TEXT, maskUrlInText) : text;
  for (const s of secrets) out = out.split(s).join('********');
  return out;
}

/** `mask` over every string in a JSON-like value (before it is serialised: escaping would hide a secret). */
export function maskDeep<T>(value: T): T {
  if (typeof value === 'string') return mask(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => maskDeep(v)) as T;
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v)])) as T;
  }
  return value;
}

/** Query parameters that carry a credential: S3/GCS signatures, SAS `sig`, tokens, API keys. */
const SECRET_PARAM = /signature|^sig$|token|credential|secret|passw|api[-_]?key|^key$|^auth/i;
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>`]+/gi;
const HIDDEN = '********';

/**
 * A URL fit to print: the user and password (`https://user:pw@host/...`) and signed or token query
 * parameters (`X-Amz-Signature=`, `token=`, `sig=` ...) replaced by asterisks; anything else as given.
 */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  let changed = false;
  if (u.username || u.password) {
    u.username = HIDDEN;
    if (u.password) u.password = HIDDEN;
    changed = true;
  }
  for (const k of new Set(u.searchParams.keys())) {
    if (SECRET_PARAM.test(k)) {
      u.searchParams.set(k, HIDDEN);
      changed = true;
    }
  }
  return changed ? u.toString().replaceAll('%2A', '*') : url;
}

/** A URL inside a sentence: punctuation after it (`see URL.`, `(URL)`) is not part of it. */
function maskUrlInText(u: string): string {
  const m = /[.,;:!?)\]}]+$/.exec(u);
  return m ? maskUrl(u.slice(0, m.index)) + m[0] : maskUrl(u);
}

/** Registers a URL's credentials as secrets, so that they are masked wherever they appear alone. */
export function registerUrlSecrets(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return;
  }
  for (const v of [u.username, u.password]) {
    registerSecret(v);
    registerSecret(safeDecode(v));
  }
  for (const [k, v] of u.searchParams) if (SECRET_PARAM.test(k)) registerSecret(v);
}

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
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
