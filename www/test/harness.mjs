// What the browser tests share: www/ served from 127.0.0.1, a persistent Chromium profile,
// and helpers to run code in a page and read what it returns.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch as launchChromium } from './chromium.mjs';
import { launch as launchFirefox } from './firefox.mjs';
import { serve } from './server.mjs';

export const www = dirname(dirname(fileURLToPath(import.meta.url)));
export const root = dirname(www);
export const nativeCli = join(root, 'target/debug/toonstore');

export const server = await serve(www);
export const origin = `http://127.0.0.1:${server.address().port}`;
/** The browser the tests run in: `chromium` (default) or `firefox` (TOONSTORE_BROWSER). */
export const browserName = process.env.TOONSTORE_BROWSER ?? 'chromium';
if (!['chromium', 'firefox'].includes(browserName)) throw new Error(`unknown browser ${browserName}`);
export const profile = mkdtempSync(join(tmpdir(), `toonstore-${browserName}-`));

/** A persistent context (Chromium) or browser (Firefox) on the test profile: both have
 * newPage() and close(). */
export const launch = () => (browserName === 'firefox' ? launchFirefox(profile) : launchChromium(profile));

export async function newPage(context) {
  const page = await context.newPage();
  await page.goto(`${origin}/test/page.html`);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

/** Runs `fn` in the page; an error thrown there comes back with its code. */
export async function inPage(page, fn, arg) {
  const result = await page.evaluate(async ([source, arg]) => {
    try {
      // eslint-disable-next-line no-new-func
      return { ok: await new Function(`return (${source})`)()(window.toonstore, arg) };
    } catch (e) {
      return { error: { code: e.code, message: e.message, line: e.line, column: e.column } };
    }
  }, [fn.toString(), arg]);
  if (result.error) {
    const error = new Error(`${result.error.code}: ${result.error.message}`);
    Object.assign(error, result.error);
    throw error;
  }
  return result.ok;
}

/** A store's files as {name: base64}, so they cross into Node intact. */
export const exportBase64 = async (t, name) => {
  // Read-only: the export itself changes no file (a read-write close writes a hint).
  const store = await t.open(name, { readOnly: true });
  const files = await store.export();
  await store.close();
  return window.filesTo(files);
};

export function native(dir, ...args) {
  return execFileSync(nativeCli, ['--db', dir, ...args], { encoding: 'utf8' });
}
