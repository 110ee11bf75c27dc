// Runs the browser benchmark in headless Chromium and Firefox ESR (persistent profiles: OPFS
// in an incognito-style context is 100-300x slower here), one session each: the one-page
// benchmark (page.html: the worker and the main-thread API against raw OPFS, sqlite-wasm and
// idb-keyval), then the multi-tab one (tabs.mjs), with the package as it was at
// PREVIOUS_REV served from a second origin. Writes target/bench-data/browser.results.json for
// the report: groups `browser` and `tabs` (Chromium), `browser-firefox` and `tabs-firefox`.
//   node www/bench/run.mjs [N] [chromium|firefox|both]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch as launchChromium } from '../test/chromium.mjs';
import { FIREFOX, launch as launchFirefox } from '../test/firefox.mjs';
import { serve } from '../test/server.mjs';
import { measureTabs } from './tabs.mjs';

/** The package before several tabs could share a store: the awaited put's baseline. */
const PREVIOUS_REV = process.env.TOONSTORE_PREVIOUS_REV ?? 'd90a246';

const www = dirname(dirname(fileURLToPath(import.meta.url)));
const root = dirname(www);
const n = Number(process.argv[2] ?? 20000);
const which = process.argv[3] ?? 'both';

/** www/ with src/ as it was at `rev` (pkg, bench, test and node_modules are today's). */
function previousPackage(rev) {
  const dir = mkdtempSync(join(tmpdir(), 'toonstore-previous-'));
  mkdirSync(join(dir, 'src'));
  const files = execFileSync('git', ['ls-tree', '--name-only', `${rev}:www/src`], { cwd: root, encoding: 'utf8' });
  for (const file of files.split('\n').filter(Boolean)) {
    writeFileSync(join(dir, 'src', file), execFileSync('git', ['show', `${rev}:www/src/${file}`], { cwd: root }));
  }
  for (const link of ['pkg', 'bench', 'test', 'node_modules']) symlinkSync(join(www, link), join(dir, link));
  return dir;
}

const ms = (samples) => samples.slice().sort((a, b) => a - b);
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function session(browser, server, previous) {
  const profile = mkdtempSync(join(tmpdir(), `toonstore-bench-${browser}-`));
  // Firefox blurs timers to 1 ms (privacy.reduceTimerPrecision): too coarse for the watch
  // latency; Chromium's 0.1 ms is enough with chunked timing.
  const context = browser === 'firefox'
    ? await launchFirefox(profile, { 'privacy.reduceTimerPrecision': false })
    : await launchChromium(profile);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const suffix = browser === 'firefox' ? '-firefox' : '';
  const groups = { [`browser${suffix}`]: {}, [`tabs${suffix}`]: {} };
  try {
    const page = await context.newPage();
    page.on('console', (message) => console.error(`page: ${typeof message.text === 'function' ? message.text() : message}`));
    await page.goto(`${origin}/bench/page.html?n=${n}`);
    // Polled from here: the two drivers' waitForFunction take their options differently.
    while (!(await page.evaluate(() => Boolean(window.results || window.failure)))) {
      await new Promise((resolve) => { setTimeout(resolve, 1000); });
    }
    const failure = await page.evaluate(() => window.failure);
    if (failure) throw new Error(failure);
    const results = await page.evaluate(() => window.results);
    const version = execFileSync(browser === 'firefox' ? FIREFOX : '/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim();
    await page.close();
    for (const [name, { ms: total, ops }] of Object.entries(results)) {
      groups[`browser${suffix}`][name] = { median_ns: (total * 1e6) / ops, elements: 1 };
      console.log(`${browser} ${name}: ${Math.round((ops / total) * 1000)}/s`);
    }
    const tabs = await measureTabs(context, origin, `http://127.0.0.1:${previous.address().port}`);
    for (const [name, samples] of Object.entries(tabs)) {
      const sorted = ms(samples);
      const [median, p99] = [quantile(sorted, 0.5), quantile(sorted, 0.99)];
      groups[`tabs${suffix}`][name] = { median_ns: median * 1e6, elements: 1 };
      groups[`tabs${suffix}`][`${name}-p99`] = { median_ns: p99 * 1e6, elements: 1 };
      console.log(`${browser} ${name}: median ${median.toFixed(4)} ms, p99 ${p99.toFixed(4)} ms (${samples.length} samples)`);
    }
    groups[`${browser}-meta`] = { [version]: { median_ns: 0 } };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return groups;
}

const server = await serve(www);
const previousDir = previousPackage(PREVIOUS_REV);
const previous = await serve(previousDir);
const external = { 'previous-rev': { [PREVIOUS_REV]: { median_ns: 0 } } };
try {
  for (const browser of ['chromium', 'firefox']) {
    if (which !== 'both' && which !== browser) continue;
    Object.assign(external, await session(browser, server, previous));
  }
} finally {
  server.close();
  previous.close();
  rmSync(previousDir, { recursive: true, force: true });
}
const out = join(root, 'target', 'bench-data');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'browser.results.json'), JSON.stringify(external, null, 1));
