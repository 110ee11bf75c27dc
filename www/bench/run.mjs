// Runs the browser benchmark in one headless Chromium session (persistent profile: OPFS in
// an incognito-style context is 100-300x slower here) and writes
// target/bench-data/browser.results.json for the report.
//   node www/bench/run.mjs [N]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../test/chromium.mjs';
import { serve } from '../test/server.mjs';

const www = dirname(dirname(fileURLToPath(import.meta.url)));
const n = Number(process.argv[2] ?? 20000);
const server = await serve(www);
const profile = mkdtempSync(join(tmpdir(), 'toonstore-bench-'));
const context = await launch(profile);
try {
  const page = await context.newPage();
  page.on('console', (message) => console.error(`page: ${message.text()}`));
  await page.goto(`http://127.0.0.1:${server.address().port}/bench/page.html?n=${n}`);
  await page.waitForFunction(() => window.results || window.failure, null, { timeout: 600_000 });
  const failure = await page.evaluate(() => window.failure);
  if (failure) throw new Error(failure);
  const results = await page.evaluate(() => window.results);
  const version = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));
  // The report's external format: {group: {function: {median_ns, elements}}}, per op.
  const external = { browser: {}, 'browser-meta': { [`chromium ${version}`]: { median_ns: 0 } } };
  for (const [name, { ms, ops }] of Object.entries(results)) {
    external.browser[name] = { median_ns: (ms * 1e6) / ops, elements: 1 };
    console.log(`${name}: ${Math.round((ops / ms) * 1000)}/s`);
  }
  const out = join(www, '..', 'target', 'bench-data');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'browser.results.json'), JSON.stringify(external, null, 1));
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
