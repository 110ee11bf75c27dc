// What profile.mjs profiles: the engine inside a worker, as the benchmark's worker calls it
// (putText of flat 1 KB documents, a sync, getText in random order), `rounds` times on fresh
// stores. Replies with each round's microseconds per put and per get.
import { close, current, open } from '../src/worker-core.js';
import { documentText, key, randomOrder } from './documents.js';

/** The documents, made by the first call and kept, so a profiled call holds only the work. */
let made;

self.onmessage = async ({ data: { n, rounds } }) => {
  try {
    if (made?.n !== n) {
      const texts = Array.from({ length: n }, (_, i) => JSON.parse(JSON.stringify(documentText(i))));
      made = { n, texts, keys: Array.from({ length: n }, (_, i) => key(i)), order: randomOrder(n) };
    }
    const { texts, keys, order } = made;
    const perRound = [];
    for (let round = 0; round < rounds; round++) {
      await open({ name: `profile-${Date.now()}-${round}` });
      const store = current();
      const start = performance.now();
      for (let i = 0; i < n; i++) store.putText(keys[i], texts[i]);
      store.sync();
      const between = performance.now();
      let bytes = 0;
      for (const i of order) bytes += store.getText(keys[i]).length;
      const end = performance.now();
      await close();
      if (bytes === 0) throw new Error('nothing read');
      perRound.push({ putUs: ((between - start) * 1000) / n, getUs: ((end - between) * 1000) / n });
    }
    self.postMessage({ perRound });
  } catch (e) {
    self.postMessage({ error: `${e?.name}: ${e?.message}\n${e?.stack}` });
  }
};
