/**
 * Debian's Chromium as the browser tests and the docs' screenshots run it: headless, and with the
 * background services off (this machine's closed network refuses them, many at a time).
 */
export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
