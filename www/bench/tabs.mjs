// The multi-tab benchmark, driven from Node in one browser session: a leading tab, a
// follower and a tab with a read cache on one store of 2,000 documents of 1 KB; idb-keyval in
// the same session; the package as it was before multi-tab (`previous`, served from another
// origin) for the awaited put. Each figure is a list of samples (ms per op) for the report's
// median and p99. Timers in pages are coarse (Chromium: 0.1 ms, Firefox: 1 ms outside
// cross-origin isolation), so fast calls are timed in chunks and each sample is a chunk's
// mean.

const DOCS = 2000;

/** What every bench page gets: the documents, idb-keyval, and a chunked timer. */
const HELPERS = `(async () => {
  window.docs = await import('/bench/documents.js');
  window.idb = await import('/node_modules/idb-keyval/dist/index.js');
  window.chunks = async (n, size, fn) => {
    const samples = [];
    for (let c = 0; c < n; c += size) {
      const start = performance.now();
      for (let i = c; i < c + size; i++) await fn(i);
      samples.push((performance.now() - start) / size);
    }
    return samples;
  };
  window.ready2 = true;
})()`;

async function benchPage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true);
  await page.evaluate(HELPERS);
  await page.waitForFunction(() => window.ready2 === true);
  return page;
}

const run = (page, fn, arg) => page.evaluate(fn, arg);
const step = (what) => { if (process.env.TOONSTORE_BENCH_VERBOSE) console.error(`tabs: ${what}`); };

/** Figures by name: arrays of samples in ms. */
export async function measureTabs(context, origin, previousOrigin) {
  const samples = {};
  const name = `bench-tabs-${Date.now()}`;
  const url = `${origin}/test/page.html`;
  const leader = await benchPage(context, url);
  await run(leader, async ([name, n]) => {
    window.store = await window.toonstore.open(name);
    await window.store.putMany(Array.from({ length: n }, (_, i) => [window.docs.key(i), window.docs.documentObject(i)]));
    window.order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
  }, [name, DOCS]);
  const follower = await benchPage(context, url);
  const cached = await benchPage(context, url);
  for (const [page, options] of [[follower, {}], [cached, { cache: { bytes: 64 << 20 } }]]) {
    await run(page, async ([name, n, options]) => {
      window.store = await window.toonstore.open(name, options);
      window.order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    }, [name, DOCS, options]);
  }

  // Leader and follower gets alternate, four rounds each, so drift in a shared machine's
  // speed falls on both.
  const gets = (page) => run(page, (n) => window.chunks(n, 50, (i) => window.store.get(window.docs.key(window.order[i]))), DOCS);
  samples['leader-get'] = [];
  samples['follower-get'] = [];
  for (let round = 0; round < 4; round++) {
    step(`gets, round ${round}`);
    samples['leader-get'].push(...await gets(leader));
    samples['follower-get'].push(...await gets(follower));
  }
  step('cached-get');
  samples['cached-get'] = await run(cached, async (n) => {
    for (let i = 0; i < n; i++) await window.store.get(window.docs.key(i)); // fills the cache
    return window.chunks(20 * n, 1000, (i) => window.store.get(window.docs.key(window.order[i % n])));
  }, DOCS);
  step('idb-get');
  samples['idb-get'] = await run(leader, async (n) => {
    window.idbStore = window.idb.createStore(`bench-idb-tabs-${Date.now()}`, 'kv');
    await window.idb.setMany(Array.from({ length: n }, (_, i) => [window.docs.key(i), window.docs.documentObject(i)]), window.idbStore);
    return window.chunks(n, 50, (i) => window.idb.get(window.docs.key(window.order[i]), window.idbStore));
  }, DOCS);

  // The awaited put, today's package against the previous one, each on a store of its own
  // in one tab (as before multi-tab: nobody else listens); then on the shared store, where
  // the tab with the read cache hears of every change.
  const awaitedPuts = (page, store) => run(page, async ([n, store]) => {
    const s = store ? await window.toonstore.open(store) : window.store;
    const objects = Array.from({ length: n }, (_, i) => window.docs.documentObject(i));
    const samples = await window.chunks(n, 50, (i) => s.put(`put-${i}`, objects[i]));
    if (store) await s.close();
    return samples;
  }, [DOCS, store]);
  step('put-awaited');
  const previous = previousOrigin ? await benchPage(context, `${previousOrigin}/test/page.html`) : null;
  samples['put-awaited'] = [];
  samples['put-awaited-previous'] = [];
  for (let round = 0; round < 4; round++) {
    samples['put-awaited'].push(...await awaitedPuts(leader, `${name}-alone-${round}`));
    if (previous) samples['put-awaited-previous'].push(...await awaitedPuts(previous, `${name}-previous-${round}`));
  }
  if (!previous) delete samples['put-awaited-previous'];
  await previous?.close();
  samples['put-awaited-shared'] = await awaitedPuts(leader);

  // 1,000 puts issued in one task and awaited together, against idb-keyval's setMany of the
  // same records; ten rounds each, fresh keys every round.
  const rounds = 10;
  step('puts-1000');
  samples['puts-1000'] = await run(leader, async (rounds) => {
    const times = [];
    for (let r = 0; r < rounds; r++) {
      // Documents made before the clock starts, as for setMany below.
      const objects = Array.from({ length: 1000 }, (_, i) => window.docs.documentObject(i));
      const start = performance.now();
      const calls = [];
      for (let i = 0; i < 1000; i++) calls.push(window.store.put(`many-${r}-${i}`, objects[i]));
      await Promise.all(calls);
      times.push(performance.now() - start);
    }
    return times;
  }, rounds);
  step("samples['idb-setMany-1000']");
  samples['idb-setMany-1000'] = await run(leader, async (rounds) => {
    const times = [];
    for (let r = 0; r < rounds; r++) {
      const entries = Array.from({ length: 1000 }, (_, i) => [`many-${r}-${i}`, window.docs.documentObject(i)]);
      const start = performance.now();
      await window.idb.setMany(entries, window.idbStore);
      times.push(performance.now() - start);
    }
    return times;
  }, rounds);

  // A change seen by watch in another tab: from the put's call in the leading tab to the
  // follower's answer that its watch saw it, both on the leading tab's clock (the two tabs'
  // `timeOrigin`s do not agree closely enough in Firefox: differences came out negative).
  // An upper bound: it adds the answer's hop back.
  const channel = `bench-watch-${name}`;
  await run(follower, (channel) => {
    window.stopWatch = new AbortController();
    const answers = new BroadcastChannel(channel);
    window.stopWatch.signal.addEventListener('abort', () => answers.close());
    (async () => {
      for await (const event of window.store.watch({ prefix: 'w/', signal: window.stopWatch.signal })) {
        if (event.key !== undefined) answers.postMessage(event.key);
      }
    })();
  }, channel);
  samples.watch = await run(leader, async (channel) => {
    const heard = new Map();
    const answers = new BroadcastChannel(channel);
    answers.onmessage = ({ data }) => heard.get(data)?.(performance.now());
    const times = [];
    try {
      // The follower's watch is live once it answers a change (its listen reaches the
      // leader after the watch starts): until then a change may go unannounced.
      for (let tries = 0; ; tries++) {
        const answered = new Promise((resolve) => {
          heard.set('w/ready', () => resolve(true));
          setTimeout(() => resolve(false), 200);
        });
        await window.store.put('w/ready', { tries });
        if (await answered) break;
        if (tries === 25) throw new Error('watch: the follower never answered a change');
      }
      for (let i = 0; i < 200; i++) {
        const at = performance.now();
        const seen = new Promise((resolve, reject) => {
          heard.set(`w/${i}`, resolve);
          setTimeout(() => reject(new Error(`watch: no answer for w/${i} in 5 s`)), 5000);
        });
        await window.store.put(`w/${i}`, { i });
        times.push((await seen) - at);
        // 5 ms apart, so each event is timed alone; by spinning, because a background tab's
        // timers are throttled (to 1 s in Firefox).
        for (const until = performance.now() + 5; performance.now() < until;);
      }
    } finally {
      answers.close();
    }
    return times;
  }, channel);
  step('watch');
  await run(follower, () => window.stopWatch.abort());

  step('failover');
  samples.failover = await failovers(context, url, name, [leader, follower]);
  await cached.close();
  return samples;
}

/** The leading tab closed while another tab calls get back to back: each sample is the
 * longest gap between two answers in that tab (leader closed -> next call answered). */
async function failovers(context, url, name, [first, second], trials = 10) {
  let leader = first;
  let follower = second;
  const gaps = [];
  for (let t = 0; t < trials; t++) {
    await run(follower, () => {
      window.answers = [];
      window.stopLoop = false;
      window.loop = (async () => {
        while (!window.stopLoop) {
          await window.store.get('k');
          window.answers.push(performance.now());
        }
      })();
    });
    await follower.waitForFunction(() => window.answers.length > 50);
    await leader.close();
    await run(follower, () => { window.target = window.answers.length + 50; });
    await follower.waitForFunction(() => window.answers.length > window.target);
    gaps.push(await run(follower, async () => {
      window.stopLoop = true;
      await window.loop;
      let gap = 0;
      for (let i = 1; i < window.answers.length; i++) gap = Math.max(gap, window.answers[i] - window.answers[i - 1]);
      return gap;
    }));
    // The follower leads now; a new tab follows it.
    leader = follower;
    follower = await benchPage(context, url);
    await run(follower, async (name) => { window.store = await window.toonstore.open(name); }, name);
  }
  await leader.close();
  await follower.close();
  return gaps;
}
