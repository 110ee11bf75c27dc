// The package's tests in real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) or Firefox ESR (TOONSTORE_BROWSER=firefox: /usr/bin/firefox-esr, driven by
// puppeteer-core over WebDriver BiDi), against www/ served from 127.0.0.1. Tests whose name
// ends in [chromium] need Chromium's DevTools protocol: elsewhere they are reported ignored. Each test gets the page (with
// `window.toonstore` imported from the package) and asserts in Node. The tests live by
// concern in api.mjs, quota.mjs, lifecycle.mjs, multitab.mjs and interop.mjs (shared set-up: harness.mjs).
// Prints one `test result:` line in cargo's format, which .ci/test adds to its total.
//   node www/test/run.mjs [NAME_FILTER]
import { rmSync } from 'node:fs';
import api from './api.mjs';
import { browserName, launch, profile, server } from './harness.mjs';
import interop from './interop.mjs';
import lifecycle from './lifecycle.mjs';
import multitab from './multitab.mjs';
import quota from './quota.mjs';

const tests = { ...api, ...quota, ...lifecycle, ...multitab, ...interop };

const filter = process.argv[2];
let context = await launch();
let passed = 0;
let failed = 0;
let ignored = 0;
for (const [name, test] of Object.entries(tests)) {
  if (filter && !name.includes(filter)) continue;
  if (name.endsWith('[chromium]') && browserName !== 'chromium') {
    ignored++;
    console.log(`test ${name} ... ignored (needs Chromium's DevTools protocol)`);
    continue;
  }
  const restart = async () => {
    await context.close();
    context = await launch();
    return context;
  };
  try {
    await test(context, restart);
    passed++;
    console.log(`test ${name} ... ok`);
  } catch (e) {
    failed++;
    console.log(`test ${name} ... FAILED\n${e.stack ?? e}`);
  }
}
await context.close();
server.close();
rmSync(profile, { recursive: true, force: true });
const browser = browserName === 'firefox' ? 'Firefox' : 'Chromium';
console.log(`\ntest result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${failed} failed; ${ignored} ignored; browser (${browser})`);
process.exit(failed ? 1 : 0);
