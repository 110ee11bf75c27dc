// The package's tests in real headless Chromium (Debian's /usr/bin/chromium), driven by
// playwright-core, against www/ served from 127.0.0.1. Each test gets the page (with
// `window.toonstore` imported from the package) and asserts in Node. The tests live by
// concern in api.mjs, quota.mjs, lifecycle.mjs and interop.mjs (shared set-up: harness.mjs).
// Prints one `test result:` line in cargo's format, which .ci/test adds to its total.
//   node www/test/run.mjs [NAME_FILTER]
import { rmSync } from 'node:fs';
import api from './api.mjs';
import { launch, profile, server } from './harness.mjs';
import interop from './interop.mjs';
import lifecycle from './lifecycle.mjs';
import quota from './quota.mjs';

const tests = { ...api, ...quota, ...lifecycle, ...interop };

const filter = process.argv[2];
let context = await launch();
let passed = 0;
let failed = 0;
for (const [name, test] of Object.entries(tests)) {
  if (filter && !name.includes(filter)) continue;
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
console.log(`\ntest result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${failed} failed; browser (Chromium)`);
process.exit(failed ? 1 : 0);
