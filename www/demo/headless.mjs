// The demo's browser step: the store in DIR (a native store's directory) goes into headless
// Chromium's OPFS through the npm package, gets one more record there, is printed as a TOON
// table, and comes back out as files into DIR/../from-browser for the native CLI to read.
//   node www/demo/headless.mjs DIR
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../test/chromium.mjs';
import { serve } from '../test/server.mjs';

const dir = process.argv[2];
const files = {};
for (const name of readdirSync(dir)) {
  if (name !== 'LOCK') files[name] = readFileSync(join(dir, name)).toString('base64');
}
const server = await serve(dirname(dirname(fileURLToPath(import.meta.url))));
const profile = mkdtempSync(join(tmpdir(), 'toonstore-demo-'));
const context = await launch(profile);
try {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/test/page.html`);
  await page.waitForFunction(() => window.ready === true);
  const out = await page.evaluate(async (files) => {
    const bytes = {};
    for (const [name, base64] of Object.entries(files)) {
      bytes[name] = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    }
    const store = await window.toonstore.open('team', { files: bytes });
    await store.put('7', { id: 7, name: 'Frances Allen', role: 'compiler', since: 2025, active: true });
    const table = await store.export({ format: 'toon' });
    const { backend, keys } = await store.stats();
    const exported = await store.export();
    await store.close();
    const back = {};
    for (const [name, data] of Object.entries(exported)) back[name] = btoa(Array.from(data, (b) => String.fromCharCode(b)).join(''));
    return { table, backend, keys, back, agent: navigator.userAgent };
  }, files);
  console.log(`${out.agent.match(/(HeadlessChrome|Chrome)\/[\d.]+/)?.[0]}: ${out.keys} records in ${out.backend}`);
  console.log(out.table);
  const target = join(dirname(dir), 'from-browser');
  mkdirSync(target, { recursive: true });
  for (const [name, base64] of Object.entries(out.back)) {
    writeFileSync(join(target, name), Buffer.from(base64, 'base64'));
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
