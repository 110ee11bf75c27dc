// The browser benchmark, one page: the worker benchmarks (worker.js), then the main-thread
// API against IndexedDB through idb-keyval, on the same documents. Sets window.results to
// {name: {ms, ops}} (or window.failure).
import { createStore, get, set, setMany } from '../node_modules/idb-keyval/dist/index.js';
import { open } from '../src/index.js';
import { documentObject, key, randomOrder } from './documents.js';

const N = Number(new URL(location.href).searchParams.get('n') ?? 20000);

async function timed(results, name, ops, run) {
  const start = performance.now();
  await run();
  results[name] = { ms: performance.now() - start, ops };
}

function inWorker() {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (data.error) reject(new Error(data.error)); else resolve(data.results);
    };
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage({ n: N });
  });
}

async function mainThread(results) {
  const objects = Array.from({ length: N }, (_, i) => documentObject(i));
  const keys = objects.map((_, i) => key(i));
  const order = randomOrder(N);

  const store = await open(`bench-api-${Date.now()}`);
  await timed(results, 'main/toonstore-put-awaited', N, async () => {
    for (let i = 0; i < N; i++) await store.put(keys[i], objects[i]);
    await store.sync();
  });
  await timed(results, 'main/toonstore-get-awaited', N, async () => {
    for (const i of order) await store.get(keys[i]);
  });
  await store.close();
  const many = await open(`bench-api-many-${Date.now()}`);
  await timed(results, 'main/toonstore-putMany', N, async () => {
    await many.putMany(objects.map((o, i) => [keys[i], o]));
    await many.sync();
  });
  await many.close();

  // idb-keyval: one by one on a tenth (about 1.5k sets/s), setMany and gets on all.
  const idb = createStore(`bench-idb-${Date.now()}`, 'kv');
  const few = Math.ceil(N / 10);
  await timed(results, 'main/idb-keyval-set-awaited', few, async () => {
    for (let i = 0; i < few; i++) await set(`one${keys[i]}`, objects[i], idb);
  });
  await timed(results, 'main/idb-keyval-setMany', N, async () => {
    await setMany(objects.map((o, i) => [keys[i], o]), idb);
  });
  await timed(results, 'main/idb-keyval-get-awaited', few, async () => {
    for (const i of order.slice(0, few)) await get(keys[i], idb);
  });
}

try {
  const results = await inWorker();
  await mainThread(results);
  window.results = results;
} catch (e) {
  window.failure = `${e.message}\n${e.stack}`;
}
