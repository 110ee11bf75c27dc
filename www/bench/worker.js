// Benchmarks inside a dedicated worker: toonstore (the engine itself, no messages), raw OPFS
// sync access handles, and SQLite (sqlite-wasm with the opfs-sahpool VFS); all on the same
// documents. Replies with {name: {ms, ops}}.
import sqlite3InitModule from '../node_modules/@sqlite.org/sqlite-wasm/dist/index.mjs';
import { close, current, open } from '../src/worker-core.js';
import { documentText, key, randomOrder } from './documents.js';

function timed(results, name, ops, run) {
  const start = performance.now();
  run();
  results[name] = { ms: performance.now() - start, ops };
}

async function toonstore(results, texts, keys, order) {
  await open({ name: `bench-${Date.now()}` });
  const store = current();
  timed(results, 'worker/toonstore-put', texts.length, () => {
    for (let i = 0; i < texts.length; i++) store.putText(keys[i], texts[i]);
    store.sync();
  });
  let bytes = 0;
  timed(results, 'worker/toonstore-get', order.length, () => {
    for (const i of order) bytes += store.getText(keys[i]).length;
  });
  if (bytes === 0) throw new Error('nothing read');
  await close();
}

async function rawOpfs(results, texts, order) {
  const root = await navigator.storage.getDirectory();
  const name = `bench-raw-${Date.now()}`;
  const handle = await (await root.getFileHandle(name, { create: true })).createSyncAccessHandle();
  const encoder = new TextEncoder();
  const records = texts.map((t) => encoder.encode(t.padEnd(1024).slice(0, 1024)));
  timed(results, 'worker/raw-opfs-write-64k', records.length, () => {
    const batch = new Uint8Array(64 * 1024);
    let at = 0;
    for (let i = 0; i < records.length; i += 64) {
      const count = Math.min(64, records.length - i);
      for (let j = 0; j < count; j++) batch.set(records[i + j], j * 1024);
      handle.write(batch.subarray(0, count * 1024), { at });
      at += count * 1024;
    }
    handle.flush();
  });
  const buffer = new Uint8Array(1024);
  timed(results, 'worker/raw-opfs-read', order.length, () => {
    for (const i of order) handle.read(buffer, { at: i * 1024 });
  });
  handle.close();
  await root.removeEntry(name);
}

async function sqlite(results, texts, keys, order) {
  const sqlite3 = await sqlite3InitModule();
  const pool = await sqlite3.installOpfsSAHPoolVfs({ directory: `/bench-sqlite-${Date.now()}` });
  const db = new pool.OpfsSAHPoolDb('/bench.db');
  db.exec('PRAGMA journal_mode=WAL; CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)');
  const insert = db.prepare('INSERT OR REPLACE INTO kv VALUES (?, ?)');
  timed(results, 'worker/sqlite-insert-one-transaction', texts.length, () => {
    db.exec('BEGIN');
    for (let i = 0; i < texts.length; i++) insert.bind([keys[i], texts[i]]).stepReset();
    db.exec('COMMIT');
  });
  const autocommit = 500;
  timed(results, 'worker/sqlite-insert-autocommit', autocommit, () => {
    for (let i = 0; i < autocommit; i++) insert.bind([`auto${i}`, texts[i]]).stepReset();
  });
  insert.finalize();
  const select = db.prepare('SELECT v FROM kv WHERE k = ?');
  let bytes = 0;
  timed(results, 'worker/sqlite-get', order.length, () => {
    for (const i of order) {
      select.bind([keys[i]]).step();
      bytes += select.get(0).length;
      select.reset();
    }
  });
  if (bytes === 0) throw new Error('nothing read');
  select.finalize();
  db.close();
  await pool.removeVfs();
}

/**
 * The documents, made afresh for each contender (untimed): whoever ran first on one shared
 * set paid for it. They are flat strings, as an app holds them (from a message or
 * JSON.parse): the generator builds ropes, which V8 flattens on first read (about 3 us a
 * document). And they are new: the first contender's allocations also promoted 20 MB of
 * young strings out of V8's young generation (a worker profile: 5.6 against 4.0 us a put).
 */
const documents = (n) => Array.from({ length: n }, (_, i) => JSON.parse(JSON.stringify(documentText(i))));

self.onmessage = async ({ data: { n } }) => {
  try {
    const keys = Array.from({ length: n }, (_, i) => key(i));
    const order = randomOrder(n);
    const results = {};
    await toonstore(results, documents(n), keys, order);
    await rawOpfs(results, documents(n), order);
    await sqlite(results, documents(n), keys, order);
    self.postMessage({ results });
  } catch (e) {
    self.postMessage({ error: `${e?.name}: ${e?.message}\n${e?.stack}` });
  }
};
