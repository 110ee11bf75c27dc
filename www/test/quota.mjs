// Full stores: the engine's limit, the browser's quota, crashed and damaged slot files.
// Run by run.mjs; each test gets the shared browser context.
import assert from 'node:assert/strict';
import { inPage, newPage, origin, root } from './harness.mjs';

export default {
  async 'a full store says QuotaExceeded and keeps what it had'(context) {
    const page = await newPage(context);
    const out = await inPage(page, async (t) => {
      const store = await t.open('full', { maxStoreBytes: 64 * 1024 });
      let stored = 0;
      let code;
      for (let i = 0; i < 100 && !code; i++) {
        try {
          await store.put(`k${i}`, { body: 'x'.repeat(4000) });
          stored++;
        } catch (e) {
          code = e.code;
        }
      }
      await store.close();
      const again = await t.open('full', { maxStoreBytes: 64 * 1024 });
      const first = await again.get('k0');
      const keys = (await again.stats()).keys;
      await again.close();
      return { code, stored, keys, first: first.body.length };
    });
    assert.equal(out.code, 'QuotaExceeded');
    assert.ok(out.stored >= 10, `${out.stored} stored`);
    assert.equal(out.keys, out.stored);
    assert.equal(out.first, 4000);
  },

  async 'a slot left by a crash opens as free; a damaged slot header is Corrupted'(context) {
    const page = await newPage(context);
    const out = await inPage(page, async (t) => {
      const store = await t.open('slots');
      await store.put('k', { n: 1 });
      await store.close();
      const root = await navigator.storage.getDirectory();
      const dir = await (await root.getDirectoryHandle('toonstore')).getDirectoryHandle('slots');
      const write = async (name, bytes) => {
        const writable = await (await dir.getFileHandle(name, { create: true })).createWritable();
        await writable.write(bytes);
        await writable.close();
      };
      // A slot whose creation a crash interrupted: its header still all zeros.
      await write('slot-000900', new Uint8Array(128));
      const again = await t.open('slots');
      const found = await again.get('k');
      await again.close();
      // A damaged header: a name length past the header's end.
      const damaged = new Uint8Array(128);
      damaged.set([84, 83, 76, 84, 1, 200]);
      await write('slot-000901', damaged);
      let code;
      let message;
      try {
        await t.open('slots');
      } catch (e) {
        ({ code, message } = e);
      }
      await dir.removeEntry('slot-000901');
      const fixed = await t.open('slots');
      const after = await fixed.get('k');
      await fixed.close();
      return { found, code, message, after };
    });
    assert.deepEqual(out.found, { n: 1 });
    assert.equal(out.code, 'Corrupted', out.message);
    assert.match(out.message, /slot-000901/);
    assert.deepEqual(out.after, { n: 1 });
  },

  async 'at the browser quota: deletes and compaction give OPFS bytes back [chromium]'(context) {
    const page = await newPage(context);
    const cdp = await context.newCDPSession(page);
    const usage = async () => inPage(page, async () => (await navigator.storage.estimate()).usage);
    const slotBytes = async () => inPage(page, async () => {
      const root = await navigator.storage.getDirectory();
      const dir = await (await root.getDirectoryHandle('toonstore')).getDirectoryHandle('quota');
      let total = 0;
      for await (const handle of dir.values()) total += (await handle.getFile()).size;
      return total;
    });
    await inPage(page, async (t) => (await t.open('quota', { segmentBytes: 64 * 1024 })).close());
    const baseline = await usage();
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: baseline + 6_000_000 });
    try {
      const filled = await inPage(page, async (t) => {
        const store = await t.open('quota', { segmentBytes: 64 * 1024 });
        let stored = 0;
        let error;
        for (let i = 0; i < 2000 && !error; i++) {
          try {
            await store.put(`k${String(i).padStart(5, '0')}`, { i, body: 'x'.repeat(4000) });
            stored++;
          } catch (e) {
            error = { code: e.code, size: e.size, limit: e.limit };
          }
        }
        const usageFull = (await navigator.storage.estimate()).usage;
        // A close at the quota either finds room for what it must write (it goes without its
        // index snapshot if need be) or fails and leaves the store open, its writes kept.
        let open = store;
        try {
          await store.close();
          open = await t.open('quota', { segmentBytes: 64 * 1024 });
        } catch (e) {
          if (e.code !== 'QuotaExceeded') throw e;
        }
        const first = await open.get('k00000');
        window.quotaStore = open;
        return { stored, error, first: first?.i, usageFull };
      });
      assert.equal(filled.error?.code, 'QuotaExceeded', JSON.stringify(filled));
      assert.ok(filled.error.size > filled.error.limit, JSON.stringify(filled));
      assert.ok(filled.stored > 20, `${filled.stored} stored: ${JSON.stringify(filled.error)}`);
      assert.equal(filled.first, 0, 'writes before the quota stay readable');
      const out = await inPage(page, async (t, stored) => {
        const store = window.quotaStore;
        for (let i = 0; i < stored - 5; i++) await store.delete(`k${String(i).padStart(5, '0')}`);
        const reclaimed = await store.compact();
        const usageAfter = (await navigator.storage.estimate()).usage;
        await store.put('after', { room: true });
        await store.close();
        const again = await t.open('quota');
        const kept = (await again.stats()).keys;
        const last = await again.get(`k${String(stored - 1).padStart(5, '0')}`);
        await again.close();
        return { reclaimed, kept, last: last?.i, usageAfter };
      }, filled.stored);
      assert.ok(out.reclaimed > 0, JSON.stringify(out));
      assert.equal(out.kept, 6, JSON.stringify(out));
      assert.equal(out.last, filled.stored - 1);
      // Freed slots are closed and removed: their bytes (and the space Chromium holds for an
      // open file) go back to the origin while the store is open.
      const [full, after] = [filled.usageFull - baseline, out.usageAfter - baseline];
      assert.ok(after < full / 2, `this store's usage ${full} -> ${after}`);
      const files = await slotBytes();
      assert.ok(files < full / 2, `the slot files still hold ${files} bytes`);
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    }
  },
};
