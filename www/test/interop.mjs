// With the rest of the world: native stores, byte-identical files, the demo page, a bundler.
// Run by run.mjs; each test gets the shared browser context.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFiles, writeFiles } from './files.mjs';
import { serve } from './server.mjs';
import { exportBase64, inPage, native, newPage, origin, www } from './harness.mjs';

/** The text of the element `selector` in `page` (Playwright and Puppeteer alike). */
const text = (page, selector) => page.evaluate((s) => document.querySelector(s).textContent, selector);

export default {
  async 'a browser store opens natively and a native store opens in the browser'(context) {
    const page = await newPage(context);
    await inPage(page, async (t) => {
      const store = await t.open('to-native');
      await store.putMany([['a', { n: 1 }], ['b', { tags: ['x', 'y'] }]]);
      await store.append({ event: 'e' });
      await store.close();
    });
    const files = await inPage(page, exportBase64, 'to-native');
    const dir = mkdtempSync(join(tmpdir(), 'toonstore-from-browser-'));
    writeFiles(join(dir, 'db'), files);
    assert.equal(native(join(dir, 'db'), 'scan', '--json'),
      '{"key":"a","value":{"n":1}}\n{"key":"b","value":{"tags":["x","y"]}}\n');
    native(join(dir, 'db'), 'put', 'c', 'from: native');
    const back = await inPage(page, async (t, files) => {
      const store = await t.open('from-native', { files: window.filesFrom(files) });
      const values = [await store.get('a'), await store.get('c'), await store.getRow(0)];
      await store.close();
      return values;
    }, readFiles(join(dir, 'db')));
    assert.deepEqual(back, [{ n: 1 }, { from: 'native' }, { event: 'e' }]);
    rmSync(dir, { recursive: true });
  },

  async 'the same workload writes byte-identical files in the browser and natively'(context) {
    const workload = [
      ['put', 'a', 'n: 1'], ['append', 'event: x'], ['put', 'b', 'tags[2]: p,q'],
      ['delete', 'a'], ['put', 'c', 'items[2]{k,v}:\n  1,x\n  2,y'], ['compact'], ['put', 'd', 'z: true'],
    ];
    const page = await newPage(context);
    // One open and close per step on both sides, as the CLI does.
    await inPage(page, async (t, workload) => {
      for (const [op, key, text] of workload) {
        const store = await t.open('same-bytes');
        if (op === 'put') await store.putText(key, text);
        if (op === 'append') await store.appendText(key);
        if (op === 'delete') await store.delete(key);
        if (op === 'compact') await store.compact();
        await store.close();
      }
    }, workload);
    const browser = await inPage(page, exportBase64, 'same-bytes');
    const dir = mkdtempSync(join(tmpdir(), 'toonstore-same-'));
    for (const [op, key, text] of workload) {
      native(join(dir, 'db'), ...[op, key, text].filter((a) => a !== undefined));
    }
    const nativeFiles = readFiles(join(dir, 'db'));
    assert.deepEqual(Object.keys(browser).sort(), Object.keys(nativeFiles));
    for (const name of Object.keys(nativeFiles)) {
      assert.ok(browser[name] === nativeFiles[name], `${name} differs`);
    }
    rmSync(dir, { recursive: true });
  },

  async 'the demo page stores, lists and exports records, in two tabs at once'(context) {
    const page = await context.newPage();
    await page.goto(`${origin}/demo/`);
    await page.waitForFunction(() => document.getElementById('status').textContent.includes('records'));
    await page.click('#samples');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 4);
    await page.type('#search', 'user:');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 3);
    await page.click('#export');
    await page.waitForFunction(() => document.getElementById('exported').textContent.length > 0);
    assert.equal(await text(page, '#exported'),
      '[3:]{id,name,role,since,active}:\n  "user:1": 1,Ada Lovelace,engine,2019,true\n' +
      '  "user:2": 2,Linus Torvalds,io,2020,true\n  "user:3": 3,Grace Hopper,codec,2021,false');
    assert.match(await text(page, '#rows'), /bytes compact[\s\S]*bytes/);
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 4);
    // A second tab of the demo: the same records, and each tab's changes show in the other.
    const second = await context.newPage();
    await second.goto(`${origin}/demo/`);
    await second.waitForFunction(() => document.querySelectorAll('#rows tr').length === 4);
    await second.type('#key', 'user:4');
    await second.evaluate(() => { document.getElementById('json').value = '{"id": 4, "name": "Barbara Liskov"}'; });
    await second.click('#add button');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 5);
    await page.click('#clear');
    await second.waitForFunction(() => document.querySelectorAll('#rows tr').length === 0);
    await second.close();
    await page.close();
  },

  async 'the package works when bundled by Vite'(context) {
    const app = join(www, 'test', 'vite-app');
    execFileSync(join(app, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'error'], { cwd: app });
    const bundled = await serve(join(app, 'dist'));
    try {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${bundled.address().port}/`);
      await page.waitForFunction(() => document.getElementById('out').textContent !== 'running');
      assert.equal(await text(page, '#out'), 'ok {"bundled":true,"n":1} opfs');
      await page.close();
    } finally {
      bundled.close();
    }
  },
};
