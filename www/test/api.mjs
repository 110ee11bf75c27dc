// The API: documents in and out, scans, batches, errors, options, keys, the memory store, the types.
// Run by run.mjs; each test gets the shared browser context.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { inPage, newPage, origin, www } from './harness.mjs';

export default {
  async 'the storage conformance suite passes on OPFS in a worker, bare and cached'(context) {
    const page = await newPage(context);
    const out = await inPage(page, () => new Promise((resolve) => {
      const worker = new Worker(`${location.origin}/test/conformance-worker.js`, { type: 'module' });
      worker.onmessage = ({ data }) => {
        worker.terminate();
        resolve(data);
      };
      worker.postMessage('run');
    }));
    assert.deepEqual(out, { passed: 28 });
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
        notText: await code(() => store.putText('k', 42)),
        notTextInBatch: await code(() => store.batch([{ type: 'putText', key: 'k', text: null }])),
      };
      results.notStored = await store.getText('k');
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
    assert.equal(out.notText.code, 'InvalidArgument');
    assert.equal(out.notTextInBatch.code, 'InvalidArgument');
    assert.equal(out.notStored, undefined);
    assert.deepEqual(out.after, { fine: true });
    assert.equal(out.closed.code, 'Closed');
  },

  async 'options from JavaScript are checked: negative, NaN, fractional, zero'(context) {
    const page = await newPage(context);
    const codes = await inPage(page, async (t) => {
      const out = [];
      for (const options of [{ segmentBytes: -1 }, { maxValueBytes: NaN }, { cacheBytes: 1.5 },
        { maxStoreBytes: 0 }, { segmentBytes: Infinity }, { durability: 'sometimes' }, { recovery: 3 },
        { readCacheBytes: -1 }]) {
        try {
          await (await t.open('options', options)).close();
          out.push('opened');
        } catch (e) {
          out.push(e.code);
        }
      }
      return out;
    });
    assert.deepEqual(codes, Array(8).fill('InvalidOption'));
  },

  async 'reads agree with or without the block cache, across segments and a reopen'(context) {
    const page = await newPage(context);
    const out = await inPage(page, async (t) => {
      const texts = Array.from({ length: 300 }, (_, i) => `i: ${i}\nbody: ${'x'.repeat(i * 7 + 1)}`);
      const results = {};
      // 0: no cache; 65536: one block, always evicting; default: 32 MiB.
      for (const readCacheBytes of [0, 65536, undefined]) {
        const name = `read-cache-${readCacheBytes}`;
        const options = { readCacheBytes, segmentBytes: 64 << 10 };
        let store = await t.open(name, options);
        for (let i = 0; i < texts.length; i++) await store.putText(`k${i}`, texts[i]);
        for (let i = 0; i < texts.length; i += 3) await store.putText(`k${i}`, `${texts[i]}\nagain: true`);
        const read = async () => {
          const got = [];
          for (let i = texts.length - 1; i >= 0; i--) got.push(await store.getText(`k${i}`));
          return got;
        };
        const before = await read();
        await store.close();
        store = await t.open(name, options);
        const after = await read();
        results[String(readCacheBytes)] = { before, same: JSON.stringify(before) === JSON.stringify(after) };
        await store.close();
      }
      return results;
    });
    const expected = Array.from({ length: 300 }, (_, n) => {
      const i = 299 - n;
      const text = `i: ${i}\nbody: ${'x'.repeat(i * 7 + 1)}`;
      return i % 3 === 0 ? `${text}\nagain: true` : text;
    });
    for (const readCacheBytes of ['0', '65536', 'undefined']) {
      assert.deepEqual(out[readCacheBytes].before, expected, `readCacheBytes ${readCacheBytes}`);
      assert.ok(out[readCacheBytes].same, `readCacheBytes ${readCacheBytes} after a reopen`);
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

  async 'a TypeScript app compiles with tsc --strict against the types and runs; tsc checks the sources'(context) {
    // Compiled here, from www/test/types (consumer.ts, tsconfig.json), beside its source;
    // and the package's own sources checked by tsc (`// @ts-check`, JSDoc): the page's
    // module against the DOM, the worker's against WebWorker.
    const tsc = join(www, 'node_modules', '.bin', 'tsc');
    for (const config of ['tsconfig.json', 'tsconfig.page.json', 'tsconfig.worker.json']) {
      execFileSync(tsc, ['-p', join(www, 'test', 'types', config)]);
    }
    const page = await newPage(context);
    const out = await inPage(page, async () => {
      const app = await import(`${location.origin}/test/types/consumer.js`);
      return app.main();
    });
    assert.deepEqual(out, {
      name: 'Ada', text: 'name: Ada\ntags[1]: math', row: 0, deleted: false, keys: ['user:1'], texts: 1,
      backend: 'opfs', code: 'InvalidDocument', estimate: true,
    });
  },
};
