/** Escapes text for HTML element content and quoted attribute values alike. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A relative URL from path segments: each segment percent-encoded, so a name never breaks out of it. */
export function relHref(relPath: string): string {
  return relPath
    .split(/[\\/]/)
    .map((seg) => (seg === '..' || seg === '.' ? seg : encodeURIComponent(seg)))
    .join('/');
}
