// Opening and closing: prompts, reloads and restarts, a crashed worker, no OPFS (several tabs:
// multitab.mjs).
// Run by run.mjs; each test gets the shared browser context.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch as launchChromium } from './chromium.mjs';
import { launch as launchFirefox } from './firefox.mjs';
import { browserName, inPage, newPage, server } from './harness.mjs';

export default {
  async 'open never waits on a permission prompt; persist() and estimate() ask when called'(context) {
    // Firefox answers navigator.storage.persist() with a prompt to the user: an open that
    // awaited it stayed pending for as long as nobody answered.
    const page = await newPage(context);
    const out = await inPage(page, async (t) => {
      const asked = [];
      navigator.storage.persist = () => {
        asked.push('persist');
        return new Promise(() => {});
      };
      const timeout = new Promise((resolve) => { setTimeout(() => resolve('still pending'), 5000); });
      const store = await Promise.race([t.open('prompted'), timeout]);
      if (store === 'still pending') return { asked, store };
      navigator.storage.persist = () => {
        asked.push('persist');
        return Promise.resolve(true);
      };
      const persisted = await store.persist();
      const { usage, quota } = await store.estimate();
      await store.close();
      let refused;
      try {
        await t.open('prompted', { fallback: 'disk' });
      } catch (e) {
        refused = e.code;
      }
      const kept = await t.open('prompted', { fallback: 'memory' });
      const backend = kept.backend;
      await kept.close();
      return { asked, persisted, usage: usage > 0, quota: quota > usage, refused, backend };
    });
    assert.deepEqual(out, {
      asked: ['persist'], persisted: true, usage: true, quota: true, refused: 'InvalidOption', backend: 'opfs',
    });
  },

  async 'data persists across a reload and a browser restart'(context, restart) {
    let page = await newPage(context);
    await inPage(page, async (t) => {
      const store = await t.open('persist');
      await store.put('kept', { n: 1 });
      await store.sync();
      await store.put('closed', { n: 2 });
      await store.close();
    });
    await page.reload();
    await page.waitForFunction(() => window.ready === true);
    const afterReload = await inPage(page, async (t) => {
      const store = await t.open('persist');
      const values = [await store.get('kept'), await store.get('closed')];
      await store.put('third', { n: 3 });
      await store.close();
      return values;
    });
    assert.deepEqual(afterReload, [{ n: 1 }, { n: 2 }]);
    const restarted = await restart();
    page = await newPage(restarted);
    const afterRestart = await inPage(page, async (t) => {
      const store = await t.open('persist');
      const values = [await store.get('kept'), await store.get('third')];
      await store.close();
      return values;
    });
    assert.deepEqual(afterRestart, [{ n: 1 }, { n: 3 }]);
  },

  async 'a crashed worker rejects pending calls with WorkerGone'(context) {
    const page = await newPage(context);
    const codes = await inPage(page, async (t) => {
      const store = await t.open('crash');
      await store.put('k', { a: 1 });
      const pending = [store.call('__crash', {}), store.get('k')];
      const settled = await Promise.allSettled(pending);
      const later = await store.get('k').catch((e) => e.code);
      return [...settled.map((s) => s.reason?.code), later];
    });
    assert.deepEqual(codes, ['WorkerGone', 'WorkerGone', 'WorkerGone']);
  },

  async 'without OPFS, open is StorageUnavailable unless memory is asked for'() {
    // A page from a name that is not loopback is not a secure context: no StorageManager, no
    // OPFS, in the page and in its workers (as in Safari's private browsing, for OPFS).
    const insecureProfile = mkdtempSync(join(tmpdir(), `toonstore-${browserName}-insecure-`));
    const insecure = browserName === 'firefox'
      ? await launchFirefox(insecureProfile, { 'network.dns.localDomains': 'toonstore.test' })
      : await launchChromium(insecureProfile, ['--host-resolver-rules=MAP toonstore.test 127.0.0.1']);
    try {
      const page = await insecure.newPage();
      await page.goto(`http://toonstore.test:${server.address().port}/test/page.html`);
      await page.waitForFunction(() => window.ready === true);
      const out = await inPage(page, async (t) => {
        const codes = [];
        for (const options of [{}, { fallback: 'memory' }, { memory: true }]) {
          try {
            const store = await t.open('nowhere', options);
            codes.push(store.backend);
            await store.put('k', { n: 1 });
            await store.close();
          } catch (e) {
            codes.push(e.code);
          }
        }
        return { codes, secure: window.isSecureContext };
      });
      assert.deepEqual(out, { codes: ['StorageUnavailable', 'memory', 'memory'], secure: false });
    } finally {
      await insecure.close();
      rmSync(insecureProfile, { recursive: true, force: true });
    }
  },
};
