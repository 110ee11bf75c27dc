// The demo's browser step: the store in DIR (a native store's directory) goes into headless
// Chromium's OPFS through the npm package, gets one more record there, is printed as a TOON
// table, and comes back out as files into DIR/../from-browser for the native CLI to read.
//   node www/demo/headless.mjs DIR
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../test/chromium.mjs';
import { readFiles, writeFiles } from '../test/files.mjs';
import { serve } from '../test/server.mjs';

const dir = process.argv[2];
const files = readFiles(dir);
const server = await serve(dirname(dirname(fileURLToPath(import.meta.url))));
const profile = mkdtempSync(join(tmpdir(), 'toonstore-demo-'));
const context = await launch(profile);
try {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/test/page.html`);
  await page.waitForFunction(() => window.ready === true);
  const out = await page.evaluate(async (files) => {
    const store = await window.toonstore.open('team', { files: window.filesFrom(files) });
    await store.put('7', { id: 7, name: 'Frances Allen', role: 'compiler', since: 2025, active: true });
    const table = await store.export({ format: 'toon' });
    const { backend, keys } = await store.stats();
    const exported = await store.export();
    await store.close();
    return { table, backend, keys, back: window.filesTo(exported), agent: navigator.userAgent };
  }, files);
  console.log(`${out.agent.match(/(HeadlessChrome|Chrome)\/[\d.]+/)?.[0]}: ${out.keys} records in ${out.backend}`);
  console.log(out.table);
  writeFiles(join(dirname(dir), 'from-browser'), out.back);
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
