// The package's tests in real headless Chromium (Debian's /usr/bin/chromium), driven by
// playwright-core, against www/ served from 127.0.0.1. Each test gets the page (with
// `window.toonstore` imported from the package) and asserts in Node. Prints one
// `test result:` line in cargo's format, which .ci/test adds to its total.
//   node www/test/run.mjs [NAME_FILTER]
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch as launchChromium } from './chromium.mjs';
import { readFiles, writeFiles } from './files.mjs';
import { serve } from './server.mjs';

const www = dirname(dirname(fileURLToPath(import.meta.url)));
const root = dirname(www);
const nativeCli = join(root, 'target/debug/toonstore');

const server = await serve(www);
const origin = `http://127.0.0.1:${server.address().port}`;
const profile = mkdtempSync(join(tmpdir(), 'toonstore-chromium-'));

const launch = () => launchChromium(profile);

async function newPage(context) {
  const page = await context.newPage();
  await page.goto(`${origin}/test/page.html`);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

/** Runs `fn` in the page; an error thrown there comes back with its code. */
async function inPage(page, fn, arg) {
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
const exportBase64 = async (t, name) => {
  // Read-only: the export itself changes no file (a read-write close writes a hint).
  const store = await t.open(name, { readOnly: true });
  const files = await store.export();
  await store.close();
  return window.filesTo(files);
};

function native(dir, ...args) {
  return execFileSync(nativeCli, ['--db', dir, ...args], { encoding: 'utf8' });
}

const tests = {
  async 'the storage conformance suite passes on OPFS in a worker'(context) {
    const page = await newPage(context);
    assert.equal(await inPage(page, (t) => t.storageConformance()), 14);
  },

  async 'documents go in and come out as objects and as TOON'(context) {
    const page = await newPage(context);
    const out = await inPage(page, async (t) => {
      const store = await t.open('api');
      await store.put('user:1', { name: 'Ada', tags: ['math', 'engines'], score: 9.5, x: null, gone: undefined });
      await store.putText('user:2', 'name: Linus\ntags[1]: kernel');
      const row = await store.append({ event: 'login' });
      const results = {
        user1: await store.get('user:1'),
        user1Text: await store.getText('user:1'),
        user2: await store.get('user:2'),
        missing: await store.get('nope'),
        row,
        rowValue: await store.getRow(row),
        deleted: await store.delete('user:2'),
        deletedAgain: await store.delete('user:2'),
        stats: await store.stats(),
      };
      await store.close();
      return results;
    });
    assert.deepEqual(out.user1, { name: 'Ada', tags: ['math', 'engines'], score: 9.5, x: null });
    assert.equal(out.user1Text, 'name: Ada\ntags[2]: math,engines\nscore: 9.5\nx: null');
    assert.deepEqual(out.user2, { name: 'Linus', tags: ['kernel'] });
    assert.equal(out.missing, undefined);
    assert.equal(out.row, 0);
    assert.deepEqual(out.rowValue, { event: 'login' });
    assert.equal(out.deleted, true);
    assert.equal(out.deletedAgain, false);
    assert.equal(out.stats.backend, 'opfs');
    assert.equal(out.stats.keys, 1);
  },

  async 'scans, batches, putMany, getMany, import and export'(context) {
    const page = await newPage(context);
    const out = await inPage(page, async (t) => {
      const store = await t.open('scan');
      await store.putMany(Array.from({ length: 600 }, (_, i) => [`k${String(i).padStart(4, '0')}`, { i }]));
      const all = [];
      for await (const [key] of store.scan()) all.push(key);
      const prefixed = [];
      for await (const entry of store.scan({ prefix: 'k001', limit: 3, text: true })) prefixed.push(entry);
      const range = [];
      for await (const [key] of store.scan({ from: 'k0598', to: 'k0600' })) range.push(key);
      let batchError;
      try {
        await store.batch([{ type: 'put', key: 'b1', value: { a: 1 } }, { type: 'putText', key: 'b2', text: 'b[3]: x,y' }]);
      } catch (e) {
        batchError = e.code;
      }
      await store.batch([{ type: 'put', key: 'b1', value: { a: 1 } }, { type: 'delete', key: 'k0000' }]);
      const many = await store.getMany(['b1', 'k0000', 'k0001']);
      await store.import([{ id: 'r1', n: 1, ok: true }, { id: 'r2', n: 2, ok: false }]);
      const table = await store.export({ format: 'toon', prefix: 'r' });
      // Overwritten documents are what compaction reclaims.
      await store.putMany(Array.from({ length: 600 }, (_, i) => [`k${String(i).padStart(4, '0')}`, { i }]));
      const reclaimed = await store.compact();
      const afterCompact = await store.get('k0599');
      await store.close();
      return { count: all.length, sorted: all.join() === [...all].sort().join(), prefixed, range, batchError, many, table, reclaimed, afterCompact };
    });
    assert.equal(out.count, 600);
    assert.ok(out.sorted);
    assert.deepEqual(out.prefixed, [['k0010', 'i: 10'], ['k0011', 'i: 11'], ['k0012', 'i: 12']]);
    assert.deepEqual(out.range, ['k0598', 'k0599']);
    assert.equal(out.batchError, 'InvalidDocument');
    assert.deepEqual(out.many, [{ a: 1 }, undefined, { i: 1 }]);
    assert.equal(out.table, '[2:]{id,n,ok}:\n  r1: r1,1,true\n  r2: r2,2,false');
    assert.ok(out.reclaimed > 0, `reclaimed ${out.reclaimed}`);
    assert.deepEqual(out.afterCompact, { i: 599 });
  },

  async 'bad input is a coded error and the store stays usable'(context) {
    const page = await newPage(context);
    const out = await inPage(page, async (t) => {
      const store = await t.open('errors');
      const code = async (call) => {
        try { await call(); return 'none'; } catch (e) { return { code: e.code, name: e.name, line: e.line, column: e.column }; }
      };
      const results = {
        invalid: await code(() => store.putText('k', 'a: 1\nb[3]: x,y')),
        undefinedValue: await code(() => store.put('k', undefined)),
        bigint: await code(() => store.put('k', { n: 1n })),
        tooLarge: await code(() => store.put('k', { s: 'x'.repeat(2 << 20) })),
        emptyKey: await code(() => store.put('', { a: 1 })),
      };
      await store.put('k', { fine: true });
      results.after = await store.get('k');
      await store.close();
      results.closed = await code(() => store.get('k'));
      return results;
    });
    assert.deepEqual(out.invalid, { code: 'InvalidDocument', name: 'ToonStoreError', line: 2, column: 1 });
    assert.equal(out.undefinedValue.code, 'InvalidDocument');
    assert.equal(out.bigint.code, 'InvalidDocument');
    assert.equal(out.tooLarge.code, 'TooLarge');
    assert.equal(out.emptyKey.code, 'InvalidKey');
    assert.deepEqual(out.after, { fine: true });
    assert.equal(out.closed.code, 'Closed');
  },

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

  async 'options from JavaScript are checked: negative, NaN, fractional, zero'(context) {
    const page = await newPage(context);
    const codes = await inPage(page, async (t) => {
      const out = [];
      for (const options of [{ segmentBytes: -1 }, { maxValueBytes: NaN }, { cacheBytes: 1.5 },
        { maxStoreBytes: 0 }, { segmentBytes: Infinity }, { durability: 'sometimes' }, { recovery: 3 }]) {
        try {
          await (await t.open('options', options)).close();
          out.push('opened');
        } catch (e) {
          out.push(e.code);
        }
      }
      return out;
    });
    assert.deepEqual(codes, Array(7).fill('InvalidOption'));
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

  async 'at the browser quota: deletes and compaction give OPFS bytes back'(context) {
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

  async 'integer-like keys come first and __proto__ is an own property'(context) {
    const page = await newPage(context);
    const out = await inPage(page, async (t) => {
      const store = await t.open('keys');
      await store.putText('order', 'b: 1\n"10": 2\na: 3\n"2": 4');
      await store.putText('proto', '__proto__:\n  polluted: true\nsafe: 1');
      const order = Object.keys(await store.get('order'));
      const proto = await store.get('proto');
      const result = {
        order,
        own: Object.prototype.hasOwnProperty.call(proto, '__proto__'),
        inner: proto.__proto__ && Object.getOwnPropertyDescriptor(proto, '__proto__').value.polluted,
        prototypeIntact: Object.getPrototypeOf(proto) === Object.prototype,
        globalClean: ({}).polluted === undefined,
      };
      await store.close();
      return result;
    });
    assert.deepEqual(out.order, ['2', '10', 'b', 'a']);
    assert.equal(out.own, true);
    assert.equal(out.inner, true);
    assert.equal(out.prototypeIntact, true);
    assert.equal(out.globalClean, true);
  },

  async 'the memory store works and says so'(context) {
    const page = await newPage(context);
    const out = await inPage(page, async (t) => {
      const store = await t.open('ephemeral', { memory: true });
      await store.put('k', { v: 1 });
      const result = [await store.get('k'), (await store.stats()).backend];
      await store.close();
      const again = await t.open('ephemeral', { memory: true });
      result.push(await again.get('k'));
      await again.close();
      return result;
    });
    assert.deepEqual(out, [{ v: 1 }, 'memory', undefined]);
  },

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

  async 'a second tab gets Locked at once and opens once the first closes'(context) {
    const first = await newPage(context);
    const second = await newPage(context);
    await first.evaluate(async () => { window.held = await window.toonstore.open('shared'); });
    const started = Date.now();
    await assert.rejects(inPage(second, (t) => t.open('shared')), { code: 'Locked' });
    assert.ok(Date.now() - started < 5000, 'Locked came at once');
    await first.evaluate(() => window.held.close());
    const value = await inPage(second, async (t) => {
      const store = await t.open('shared');
      await store.put('k', { ok: true });
      const v = await store.get('k');
      await store.close();
      return v;
    });
    assert.deepEqual(value, { ok: true });
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
};

tests['without OPFS, open is StorageUnavailable unless memory is asked for'] = async () => {
  // A page from a name that is not loopback is not a secure context: no StorageManager, no
  // OPFS, in the page and in its workers (as in Safari's private browsing, for OPFS).
  const insecureProfile = mkdtempSync(join(tmpdir(), 'toonstore-chromium-insecure-'));
  const insecure = await launchChromium(insecureProfile, ['--host-resolver-rules=MAP toonstore.test 127.0.0.1']);
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
};

tests['a TypeScript app compiles with tsc --strict against the types and runs'] = async (context) => {
  // Compiled here, from www/test/types (consumer.ts, tsconfig.json), beside its source.
  execFileSync(join(www, 'node_modules', '.bin', 'tsc'), ['-p', join(www, 'test', 'types')]);
  const page = await newPage(context);
  const out = await inPage(page, async () => {
    const app = await import(`${location.origin}/test/types/consumer.js`);
    return app.main();
  });
  assert.deepEqual(out, {
    name: 'Ada', text: 'name: Ada\ntags[1]: math', row: 0, deleted: false, keys: ['user:1'], texts: 1,
    backend: 'opfs', code: 'InvalidDocument', estimate: true,
  });
};

tests['the demo page stores, lists and exports records'] = async (context) => {
  const page = await context.newPage();
  await page.goto(`${origin}/demo/`);
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('records'));
  await page.click('#samples');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 4);
  await page.fill('#search', 'user:');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 3);
  await page.click('#export');
  await page.waitForFunction(() => document.getElementById('exported').textContent.length > 0);
  assert.equal(await page.textContent('#exported'),
    '[3:]{id,name,role,since,active}:\n  "user:1": 1,Ada Lovelace,engine,2019,true\n' +
    '  "user:2": 2,Linus Torvalds,io,2020,true\n  "user:3": 3,Grace Hopper,codec,2021,false');
  assert.match(await page.textContent('#rows'), /bytes compact[\s\S]*bytes/);
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 4);
  await page.close();
};

tests['the package works when bundled by Vite'] = async (context) => {
  const app = join(www, 'test', 'vite-app');
  execFileSync(join(app, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'error'], { cwd: app });
  const bundled = await serve(join(app, 'dist'));
  try {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${bundled.address().port}/`);
    await page.waitForFunction(() => document.getElementById('out').textContent !== 'running');
    assert.equal(await page.textContent('#out'), 'ok {"bundled":true,"n":1} opfs');
    await page.close();
  } finally {
    bundled.close();
  }
};

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
