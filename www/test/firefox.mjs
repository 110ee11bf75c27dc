// Debian's Firefox ESR as the tests and the benchmark launch it: puppeteer-core over WebDriver
// BiDi (no driver binary, no browser download) on a persistent profile (OPFS persists per
// profile and origin: keep the server's port for the profile's life).
import puppeteer from 'puppeteer-core';

export const FIREFOX = '/usr/bin/firefox-esr';

/** A browser on the profile directory `profile`; like a Playwright context, it has newPage()
 * and close(). `prefs` are extra Firefox preferences. */
export function launch(profile, prefs = {}) {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: prefs,
  });
}
