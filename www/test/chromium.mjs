// Debian's headless Chromium as the tests, the benchmark and the demo launch it: a
// persistent profile (OPFS in an incognito-style context was 100-300x slower here) and the
// flags this machine needs (no sandbox as root, no background networking).
import { chromium } from 'playwright-core';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A browser context on the profile directory `profile` (with `extra` flags). */
export function launch(profile, extra = []) {
  return chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: [...ARGS, ...extra] });
}
