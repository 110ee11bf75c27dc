// Several tabs of one origin on one store: followers' calls, failover when the leading tab
// closes, reloads, crashes or freezes (calls in flight: none lost, none run twice), start-up
// races, watch, same-task batching and the read cache. Run by run.mjs in each browser; the
// tests that need Chromium's DevTools protocol (crash, freeze) say so.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inPage, newPage, server, www } from './harness.mjs';

const WASM = '/pkg/toonstore_wasm_bg.wasm';

/** Opens `name` in `page` as `window.store` (with `options`). */
const openIn = (page, name, options = {}) => inPage(page, async (t, [name, options]) => {
  window.store = await t.open(name, options);
  return window.store.backend;
}, [name, options]);

/** Two tabs on store `name`: one that opened it first (and leads), then a follower that
 * opened it with `options`. */
async function leaderAndFollower(context, name, options = {}) {
  const leader = await newPage(context);
  const follower = await newPage(context);
  await openIn(leader, name);
  await openIn(follower, name, options);
  return [leader, follower];
}

/** In `page`, appends {n} for n < count, a few per task, never awaiting one before the
 * next; `window.appends` settles with each one's row id or error code. */
const startAppends = (page, count) => page.evaluate((count) => {
  window.settled = 0;
  window.appends = (async () => {
    const pending = [];
    for (let n = 0; n < count; n++) {
      pending.push(window.store.append({ n }).then(
        (row) => ({ n, row }),
        (e) => ({ n, code: e.code, message: e.message }),
      ).finally(() => { window.settled++; }));
      if (n % 4 === 3) await new Promise((resolve) => { setTimeout(resolve, 2); });
    }
    return Promise.all(pending);
  })();
}, count);

/** Makes calls from the follower `page` until its port to the leader is in use (the broker
 * hands it over asynchronously); asserts that it is. */
async function untilDirect(page) {
  const direct = await page.evaluate(async () => {
    for (let i = 0; i < 50 && !window.store.client.direct; i++) {
      await window.store.get('any');
      await new Promise((resolve) => { setTimeout(resolve, 10); });
    }
    return Boolean(window.store.client.direct);
  });
  assert.ok(direct, 'a direct port to the leader');
}

/** Every row of the store open in `page` as `window.store`: [{row, n}]. */
const rowsIn = (page) => inPage(page, async () => {
  const { rows } = await window.store.stats();
  const found = [];
  for (let id = 0; found.length < rows && id < 100_000; id++) {
    const doc = await window.store.getRow(id);
    if (doc !== undefined) found.push({ row: id, n: doc.n });
  }
  return found;
});

/** Asserts that every acknowledged append is stored once at its row, that nothing is stored
 * twice, and that calls failed only as the failover rules allow. */
function checkAppends(outcomes, rows, allowed) {
  const stored = new Map();
  for (const { row, n } of rows) {
    assert.ok(!stored.has(n), `append ${n} stored twice (rows ${stored.get(n)} and ${row})`);
    stored.set(n, row);
  }
  const codes = {};
  for (const outcome of outcomes) {
    if (outcome.code) {
      codes[outcome.code] = (codes[outcome.code] ?? 0) + 1;
      assert.ok(allowed.includes(outcome.code), `append ${outcome.n}: ${outcome.code} ${outcome.message}`);
    } else {
      assert.equal(stored.get(outcome.n), outcome.row, `acknowledged append ${outcome.n} at row ${outcome.row}`);
    }
  }
  for (const n of stored.keys()) assert.ok(n >= 0 && n < outcomes.length);
  return codes;
}

/** A follower appends while `disrupt(leader)` happens to the leading tab; then checks. */
async function failover(context, name, disrupt, allowed = ['LeaderLost']) {
  const [leader, follower] = await leaderAndFollower(context, name);
  await inPage(follower, () => window.store.put('before', { ok: true }));
  await startAppends(follower, 1500);
  await follower.waitForFunction(() => window.settled >= 100);
  await disrupt(leader);
  const midway = await follower.evaluate(() => window.settled);
  const outcomes = await follower.evaluate(() => window.appends);
  const rows = await rowsIn(follower);
  const codes = checkAppends(outcomes, rows, allowed);
  // The store goes on: the follower leads now, a new tab joins it.
  const third = await newPage(context);
  await openIn(third, name);
  const seen = await inPage(third, async () => [await window.store.get('before'), (await window.store.stats()).rows]);
  assert.deepEqual(seen, [{ ok: true }, rows.length]);
  for (const page of [follower, third]) await page.close();
  if (!leader.isClosed?.()) await leader.close().catch(() => {});
  assert.ok(midway < outcomes.length, `the appends were over before the leader went (${midway})`);
  return { codes, acknowledged: outcomes.filter((o) => !o.code).length, rows: rows.length, midway };
}

const cdp = (page) => page.context().newCDPSession(page);

/** Stops the JavaScript of the worker of the page of CDP `session` at its next task (the
 * debugger pauses it), or at the first line of src/worker.js that holds `line`: `resume()`
 * lets it go on; `paused` settles once it stopped. */
async function stopWorker(session, line) {
  const attached = new Promise((resolve) => { session.once('Target.attachedToTarget', resolve); });
  await session.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const { sessionId } = await attached;
  let id = 0;
  const send = (method) => session.send('Target.sendMessageToTarget', {
    sessionId, message: JSON.stringify({ id: ++id, method, params: {} }),
  });
  const paused = new Promise((resolve) => {
    const listen = (event) => {
      if (!event.message.includes('"Debugger.paused"')) return;
      session.off('Target.receivedMessageFromTarget', listen);
      resolve();
    };
    session.on('Target.receivedMessageFromTarget', listen);
  });
  await send('Debugger.enable');
  if (line === undefined) {
    await send('Debugger.pause');
  } else {
    const lineNumber = readFileSync(join(www, 'src/worker.js'), 'utf8').split('\n').findIndex((l) => l.includes(line));
    assert.ok(lineNumber >= 0, line);
    await session.send('Target.sendMessageToTarget', {
      sessionId,
      message: JSON.stringify({ id: ++id, method: 'Debugger.setBreakpointByUrl', params: { urlRegex: 'src/worker\\.js$', lineNumber } }),
    });
  }
  return {
    paused,
    async resume() {
      await send('Debugger.resume');
      await send('Debugger.disable');
      await session.send('Target.setAutoAttach', { autoAttach: false, waitForDebuggerOnStart: false, flatten: false });
    },
  };
}

export default {
  async 'a follower tab answers every call, and never loads the engine'(context) {
    const leader = await newPage(context);
    await openIn(leader, 'mt-api');
    await inPage(leader, () => window.store.put('from-leader', { by: 'leader' }));
    const follower = await newPage(context);
    const loads = server.requests.get(WASM) ?? 0;
    assert.equal(await openIn(follower, 'mt-api'), 'opfs');
    const out = await inPage(follower, async () => {
      const s = window.store;
      await s.put('a', { n: 1 });
      await s.putText('b', 'n: 2');
      const row = await s.append({ row: 1 });
      await s.batch([{ type: 'put', key: 'c', value: { n: 3 } }, { type: 'delete', key: 'a' }]);
      await s.putMany({ d: { n: 4 } });
      await s.import([{ id: 'e', n: 5 }]);
      const scanned = [];
      for await (const [key] of s.scan()) scanned.push(key);
      const deleted = await s.delete('d');
      const compacted = await s.compact();
      await s.sync();
      let bad;
      try {
        await s.putText('x', 'a:\n  b: 1\n c: 2');
      } catch (e) {
        bad = [e.code, e.line];
      }
      return {
        leaders: await s.get('from-leader'),
        b: await s.getText('b'),
        row: await s.getRow(row),
        many: await s.getMany(['b', 'c', 'a']),
        scanned,
        deleted,
        compacted: typeof compacted,
        toon: await s.export({ format: 'toon', prefix: 'e' }),
        files: Object.keys(await s.export()).length > 0,
        keys: (await s.stats()).keys,
        bad,
      };
    });
    assert.deepEqual(out, {
      leaders: { by: 'leader' },
      b: 'n: 2',
      row: { row: 1 },
      many: [{ n: 2 }, { n: 3 }, undefined],
      scanned: ['b', 'c', 'd', 'e', 'from-leader'],
      deleted: true,
      compacted: 'number',
      toon: 'e:\n  id: e\n  n: 5',
      files: true,
      keys: 4,
      bad: ['InvalidDocument', 3],
    });
    assert.equal(server.requests.get(WASM) ?? 0, loads, 'the follower loaded no wasm');
    // The follower's calls go over a port of its own to the leader's worker (brokered by the
    // package's SharedWorker), not over the BroadcastChannels.
    const routes = await inPage(follower, async () => {
      const sent = { channel: 0, port: 0 };
      const channelPost = BroadcastChannel.prototype.postMessage;
      const portPost = MessagePort.prototype.postMessage;
      BroadcastChannel.prototype.postMessage = function spy(message, ...rest) {
        if (message?.t === 'calls') sent.channel++;
        return channelPost.call(this, message, ...rest);
      };
      MessagePort.prototype.postMessage = function spy(message, ...rest) {
        if (message?.t === 'calls') sent.port++;
        return portPost.call(this, message, ...rest);
      };
      for (let i = 0; i < 10; i++) await window.store.get('c');
      BroadcastChannel.prototype.postMessage = channelPost;
      MessagePort.prototype.postMessage = portPost;
      return sent;
    });
    assert.deepEqual(routes, { channel: 0, port: 10 });
    // The leader sees the follower's writes; the follower's own options are checked there.
    assert.deepEqual(await inPage(leader, () => window.store.get('c')), { n: 3 });
    const third = await newPage(context);
    await assert.rejects(openIn(third, 'mt-api', { segmentBytes: -1 }), { code: 'InvalidOption' });
    await openIn(third, 'mt-api', { readOnly: true });
    const readOnly = await inPage(third, async () => [
      await window.store.get('c'),
      await window.store.put('c', {}).catch((e) => e.code),
    ]);
    assert.deepEqual(readOnly, [{ n: 3 }, 'ReadOnly']);
    for (const page of [leader, follower, third]) await page.close();
  },

  async 'multiTab exclusive: Locked at once while another tab has the store'(context) {
    const first = await newPage(context);
    const second = await newPage(context);
    await openIn(first, 'mt-exclusive', { multiTab: 'exclusive' });
    await assert.rejects(openIn(second, 'mt-exclusive', { multiTab: 'exclusive' }), { code: 'Locked' });
    // A shared open waits for the store up to its timeout, then says Locked.
    await assert.rejects(openIn(second, 'mt-exclusive', { timeout: 500 }), { code: 'Locked' });
    await inPage(first, () => window.store.close());
    await openIn(second, 'mt-exclusive', { multiTab: 'exclusive' });
    await assert.rejects(openIn(first, 'mt-exclusive', { multiTab: 'exclusive' }), { code: 'Locked' });
    await inPage(second, () => window.store.close());
    // A shared leader keeps an exclusive open out too.
    await openIn(first, 'mt-exclusive');
    await assert.rejects(openIn(second, 'mt-exclusive', { multiTab: 'exclusive' }), { code: 'Locked' });
    for (const page of [first, second]) await page.close();
  },

  async 'the leader tab closed with calls in flight: none lost, none doubled'(context) {
    const out = await failover(context, 'mt-close', (leader) => leader.close());
    assert.ok(out.acknowledged > 0, JSON.stringify(out));
    console.log(`  ${JSON.stringify(out)}`);
  },

  async 'the leader tab reloaded with calls in flight: none lost, none doubled'(context) {
    const out = await failover(context, 'mt-reload', (leader) => leader.reload());
    assert.ok(out.acknowledged > 0, JSON.stringify(out));
    console.log(`  ${JSON.stringify(out)}`);
  },

  async 'the leader tab crashed with calls in flight: acknowledged writes kept, none doubled [chromium]'(context) {
    const out = await failover(context, 'mt-crash', async (leader) => {
      const session = await cdp(leader);
      session.send('Page.crash').catch(() => {}); // never answers: the page is gone
      await leader.waitForEvent('crash');
    });
    assert.ok(out.acknowledged > 0, JSON.stringify(out));
    console.log(`  ${JSON.stringify(out)}`);
  },

  async 'a call the leader took and never answered fails with LeaderLost, and did not run [chromium]'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-lost');
    const session = await cdp(leader);
    // The leader's worker stops right after it told the follower it took the call.
    const worker = await stopWorker(session, 'if (live.length) enqueue(live, client, (results) => reply.postMessage');
    await follower.evaluate(() => {
      window.lost = window.store.append({ lost: true }).then((row) => ({ row }), (e) => ({ code: e.code, call: e.call }));
    });
    await worker.paused;
    session.send('Page.crash').catch(() => {});
    await leader.waitForEvent('crash');
    const lost = await follower.evaluate(() => window.lost);
    const after = await inPage(follower, async () => [(await window.store.stats()).rows, await window.store.append({ next: true })]);
    assert.equal(lost.code, 'LeaderLost', JSON.stringify(lost));
    assert.ok(Number.isInteger(lost.call), 'it names the call');
    assert.equal(after[0], 0, 'the crashed leader never ran the call it took');
    await follower.close();
  },

  async 'a frozen leader tab or a stopped leader worker hangs no follower [chromium]'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-freeze', { timeout: 1000 });
    const putAndGet = (key) => inPage(follower, async (key) => {
      const settled = await Promise.allSettled([window.store.put(key, { n: 1 }), window.store.get('x')]);
      return settled.map((s) => (s.status === 'fulfilled' ? 'ok' : `${s.reason.code} taken=${s.reason.taken}`));
    }, key);
    // A frozen page: its worker may go on answering or be frozen too (seen both here); the
    // follower hears within its timeout either way, and an untaken call never runs.
    const session = await cdp(leader);
    await session.send('Page.setWebLifecycleState', { state: 'frozen' });
    const whileFrozen = await putAndGet('while-frozen');
    await session.send('Page.setWebLifecycleState', { state: 'active' });
    const frozenPut = await inPage(follower, () => window.store.get('while-frozen'));
    const expected = { ok: { n: 1 }, 'Timeout taken=false': undefined };
    assert.ok(whileFrozen[0] in expected && whileFrozen[1] in expected, `${whileFrozen}`);
    assert.deepEqual(frozenPut, expected[whileFrozen[0]], `${whileFrozen}`);
    // A worker that runs nothing (as a frozen or back/forward-cached page's may): the
    // follower's calls time out untaken, and never run once it wakes.
    const worker = await stopWorker(session);
    const whileStopped = await putAndGet('while-stopped');
    await worker.resume();
    const after = await inPage(follower, async () => {
      await window.store.put('after', { n: 2 });
      return [await window.store.get('while-stopped'), await window.store.get('after')];
    });
    assert.deepEqual(whileStopped, ['Timeout taken=false', 'Timeout taken=false']);
    assert.deepEqual(after, [undefined, { n: 2 }], 'a call that timed out untaken never ran');
    // An open while the leader's worker runs nothing: Locked after its timeout, not a hang.
    const stopped = await stopWorker(session);
    const third = await newPage(context);
    await assert.rejects(openIn(third, 'mt-freeze', { timeout: 500 }), { code: 'Locked' });
    await stopped.resume();
    for (const page of [leader, follower, third]) await page.close();
  },

  async 'a watch whose word to a stopped leader timed out hears the changes once it wakes [chromium]'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-listen-stopped', { timeout: 1000 });
    const worker = await stopWorker(await cdp(leader));
    await follower.evaluate(() => {
      window.events = [];
      (async () => { for await (const e of window.store.watch()) window.events.push(e); })();
    });
    // Its 'listen' times out (1 s); it is sent again, and taken once the worker runs.
    await new Promise((resolve) => { setTimeout(resolve, 1300); });
    await worker.resume();
    await inPage(leader, () => window.store.put('k', 1));
    await follower.waitForFunction(() => window.events.some((e) => e.key === 'k'), null, { timeout: 5000 });
    const types = await follower.evaluate(() => window.events.map((e) => e.type));
    assert.deepEqual(types, ['missed', 'put']);
    for (const page of [leader, follower]) await page.close();
  },

  async 'a store in memory stays its tab\'s own beside a shared one'(context) {
    const memory = await newPage(context);
    const shared = await newPage(context);
    assert.equal(await openIn(memory, 'mt-mem', { memory: true }), 'memory');
    await inPage(memory, () => window.store.put('k', { v: 1 }));
    assert.equal(await openIn(shared, 'mt-mem'), 'opfs');
    await inPage(shared, () => window.store.put('s', { v: 2 }));
    const out = await inPage(memory, async () => {
      await window.store.put('k2', { v: 3 });
      return [await window.store.get('k'), await window.store.get('s')];
    });
    assert.deepEqual(out, [{ v: 1 }, undefined]);
    assert.deepEqual(await inPage(shared, async () => [await window.store.get('k'), await window.store.get('k2')]), [undefined, undefined]);
    for (const page of [memory, shared]) await page.close();
  },

  async 'a read-only tab that leads hands the store over to a tab that writes'(context) {
    const reader = await newPage(context);
    const writer = await newPage(context);
    await inPage(reader, async (t) => {
      const s = await t.open('mt-readonly');
      await s.put('a', { n: 1 });
      await s.close();
    });
    await openIn(reader, 'mt-readonly', { readOnly: true });
    await openIn(writer, 'mt-readonly');
    const wrote = await inPage(writer, async () => {
      await window.store.put('b', { n: 2 });
      return window.store.get('b');
    });
    const read = await inPage(reader, async () => [
      await window.store.get('a'), await window.store.get('b'), await window.store.put('c', {}).catch((e) => e.code),
    ]);
    assert.deepEqual(wrote, { n: 2 });
    assert.deepEqual(read, [{ n: 1 }, { n: 2 }, 'ReadOnly']);
    for (const page of [reader, writer]) await page.close();
  },

  async 'pagehide then pageshow: the tab leads again or follows, and never twice'(context) {
    const only = await newPage(context);
    await openIn(only, 'mt-bfcache', { timeout: 3000 });
    // Hidden and shown while its worker is still busy handing over: it asks for the lock again.
    const back = await inPage(only, async () => {
      const s = window.store;
      await s.put('k', { n: 1 });
      s.compact();
      s.client.hide();
      s.client.show();
      return s.get('k');
    });
    assert.deepEqual(back, { n: 1 });
    // A follower shown twice asks for the lock once: once hidden, it does not lead again.
    const follower = await newPage(context);
    await openIn(follower, 'mt-bfcache', { timeout: 3000 });
    await inPage(follower, () => { window.store.client.show(); window.store.client.show(); });
    await only.close();
    await inPage(follower, () => window.store.get('k'));
    const leadsAfterHide = await inPage(follower, async () => {
      const leadsNow = window.store.client.leader?.local;
      window.store.client.hide();
      await new Promise((resolve) => { setTimeout(resolve, 500); });
      return [leadsNow, window.store.client.leader?.local ?? false];
    });
    assert.deepEqual(leadsAfterHide, [true, false]);
    await follower.close();
  },

  async 'a follower back from the back/forward cache still gets answers and change events'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-follower-bfcache', { timeout: 3000, cache: { bytes: 1 << 20 } });
    await inPage(leader, () => window.store.put('k', 1));
    await follower.evaluate(async () => {
      window.events = [];
      (async () => { for await (const e of window.store.watch()) window.events.push(e); })();
      await window.store.get('k');
    });
    await untilDirect(follower);
    // Into the back/forward cache and back (pagehide and pageshow with persisted: true).
    await inPage(follower, async () => {
      window.store.client.hide(true);
      await new Promise((resolve) => { setTimeout(resolve, 100); });
      window.store.client.shown();
    });
    assert.equal(await inPage(follower, () => window.store.get('k')), 1);
    await inPage(leader, () => window.store.put('k', 2));
    await follower.waitForFunction(() => window.events.some((e) => e.key === 'k'));
    assert.equal(await inPage(follower, () => window.store.get('k')), 2);
    // Events may have gone unheard while it was hidden: its watch was told.
    assert.deepEqual(await follower.evaluate(() => window.events.map((e) => e.type)), ['missed', 'put']);
    for (const page of [leader, follower]) await page.close();
  },

  async 'a follower that goes for good still gets the answers to what it sent before'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-follower-gone', { timeout: 3000 });
    await untilDirect(follower);
    // pagehide (not persisted): its 'bye' follows 256 puts on the port; 44 more go after it.
    const failed = await inPage(follower, async () => {
      const calls = Array.from({ length: 300 }, (_, i) => window.store.put(`g${i}`, i));
      window.store.client.hide(false);
      const settled = await Promise.allSettled(calls);
      return settled.filter((s) => s.status === 'rejected').map((s) => s.reason.code);
    });
    assert.deepEqual(failed, []);
    assert.equal(await inPage(leader, () => window.store.get('g299')), 299);
    for (const page of [leader, follower]) await page.close();
  },

  async 'a call that reaches the leader too close to its deadline is not run'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-deadline');
    // A call sent by hand, 100 ms before its deadline: the leader answers Timeout without
    // taking it (its 'taken' could come back after the sender gave up on it).
    const answer = await inPage(follower, async () => {
      const client = 'hand-made';
      const { epoch } = window.store.client.leader;
      const replies = new BroadcastChannel(`toonstore:mt-deadline:p2:to:${client}`);
      const heard = [];
      const done = new Promise((resolve) => {
        replies.onmessage = ({ data }) => {
          heard.push(data.t);
          if (data.t === 'results') resolve(data.results[0].error);
        };
      });
      new BroadcastChannel('toonstore:mt-deadline:p2:calls').postMessage({
        t: 'calls', client, epoch, margin: 250,
        calls: [{ id: 1, op: 'putJson', args: { key: 'late', json: '1' }, deadline: Date.now() + 100 }],
      });
      const error = await done;
      replies.close();
      return { heard, code: error?.code, taken: error?.taken, stored: await window.store.get('late') };
    });
    assert.deepEqual(answer, { heard: ['results'], code: 'Timeout', taken: false, stored: undefined });
    for (const page of [leader, follower]) await page.close();
  },

  async 'a leader that cannot close in time says Timeout, not closed [chromium]'(context) {
    const leader = await newPage(context);
    await openIn(leader, 'mt-close-timeout');
    const worker = await stopWorker(await cdp(leader));
    const code = await inPage(leader, () => window.store.close().then(() => 'closed', (e) => e.code));
    await worker.resume();
    assert.equal(code, 'Timeout');
    assert.deepEqual(await inPage(leader, async () => { await window.store.put('k', 1); return window.store.get('k'); }), 1);
    await leader.close();
  },

  async 'calls made while a follower closes fail with Closed and never run'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-closing');
    const late = await inPage(follower, async () => {
      const s = window.store;
      s.compact();
      const closing = s.close();
      const code = await s.put('late', { n: 1 }).then(() => 'ok', (e) => e.code);
      await closing;
      return code;
    });
    assert.equal(late, 'Closed');
    assert.equal(await inPage(leader, () => window.store.get('late')), undefined);
    for (const page of [leader, follower]) await page.close();
  },

  async 'a follower whose worker cannot take over keeps its store and tries again'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-takeover', { timeout: 20_000 });
    await inPage(leader, () => window.store.put('k', { n: 1 }));
    // Another context holds the epoch file open: the next leader's open fails (Locked after
    // its wait), then succeeds once the file is let go.
    await follower.evaluate(async () => {
      const source = `onmessage = async ({ data }) => {
        if (data === 'hold') {
          const root = await navigator.storage.getDirectory();
          const dir = await (await root.getDirectoryHandle('toonstore')).getDirectoryHandle('mt-takeover');
          self.handle = await (await dir.getFileHandle('leader-epoch')).createSyncAccessHandle();
        } else {
          self.handle.close();
        }
        postMessage(data);
      };`;
      window.holder = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
      window.tell = (m) => new Promise((resolve) => { window.holder.onmessage = () => resolve(); window.holder.postMessage(m); });
      await window.tell('hold');
    });
    await leader.close();
    const during = await inPage(follower, () => window.store.get('k').then(() => 'answered', (e) => e.code));
    await follower.evaluate(() => window.tell('let go'));
    const after = await inPage(follower, () => window.store.get('k'));
    assert.equal(during, 'Locked');
    assert.deepEqual(after, { n: 1 });
    await follower.close();
  },

  async 'two readers of one watch both hear the next change'(context) {
    const page = await newPage(context);
    await openIn(page, 'mt-watch-twice');
    const heard = await inPage(page, async () => {
      const events = window.store.watch();
      const both = Promise.all([events.next(), events.next()]);
      await window.store.put('a', 1);
      await window.store.put('b', 2);
      const results = await both;
      await events.return();
      return results.map((r) => r.value.key);
    });
    assert.deepEqual(heard, ['a', 'b']);
    await page.close();
  },

  async 'a second close while the first hands over waits for it'(context) {
    const page = await newPage(context);
    await openIn(page, 'mt-close-twice');
    const out = await inPage(page, async () => {
      const s = window.store;
      await s.put('k', { n: 1 });
      const compacted = s.compact().then(() => 'ok', (e) => e.code);
      await Promise.resolve(); // the compaction's message leaves
      s.client.worker.postMessage({ t: 'resign' }); // as a first close would
      await s.close();
      return compacted;
    });
    assert.equal(out, 'ok');
    await page.close();
  },

  async 'a cached get after close says Closed'(context) {
    const page = await newPage(context);
    await openIn(page, 'mt-cache-closed', { cache: { bytes: 1 << 20 } });
    const code = await inPage(page, async () => {
      await window.store.put('k', 1);
      await window.store.get('k');
      await window.store.close();
      return window.store.get('k').then(() => 'answered', (e) => e.code);
    });
    assert.equal(code, 'Closed');
    await page.close();
  },

  async 'a hidden follower does not take the lead; a hidden tab closes at once'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-hidden', { timeout: 1000 });
    await inPage(follower, () => { window.store.client.hide(); });
    await leader.close();
    const out = await inPage(follower, async () => {
      await new Promise((resolve) => { setTimeout(resolve, 500); });
      const leads = window.store.client.leader?.local ?? false;
      const started = Date.now();
      await window.store.close();
      return { leads, quick: Date.now() - started < 900 };
    });
    assert.deepEqual(out, { leads: false, quick: true });
    await follower.close();
  },

  async 'a call in flight when another leader is announced is settled by its answer, not run again'(context) {
    const [leader, follower] = await leaderAndFollower(context, 'mt-overtaken', { timeout: 1000 });
    await inPage(follower, () => window.store.get('warm'));
    const outcome = await inPage(follower, async () => {
      const s = window.store;
      const put = s.put('x', 1).then(() => 'ok', (e) => `${e.code} taken=${e.taken}`);
      await Promise.resolve();
      // A next leader's word that overtakes the current one's 'taken' and answer.
      s.client.fromBus({ t: 'leader', epoch: s.client.leader.epoch + 1, client: 'ghost', info: { version: 0 } });
      return put;
    });
    const stored = await inPage(leader, () => window.store.get('x'));
    assert.ok(outcome === 'ok' || outcome.startsWith('LeaderLost'), outcome);
    assert.equal(stored, 1);
    for (const page of [leader, follower]) await page.close();
  },

  async 'two tabs opening at the same instant share one leader'(context) {
    const pages = [await newPage(context), await newPage(context)];
    const both = await Promise.all(pages.map((page, i) => inPage(page, async (t, i) => {
      window.store = await t.open('mt-race');
      await window.store.put(`tab${i}`, { i });
      return true;
    }, i)));
    assert.deepEqual(both, [true, true]);
    for (const page of pages) {
      assert.deepEqual(await inPage(page, async () => [await window.store.get('tab0'), await window.store.get('tab1')]), [{ i: 0 }, { i: 1 }]);
    }
    for (const page of pages) await page.close();
  },

  async 'a reload storm of the leading tab leaves a store that opens, with every acknowledged write'(context) {
    const stormy = await newPage(context);
    const steady = await newPage(context);
    await openIn(stormy, 'mt-storm');
    await openIn(steady, 'mt-storm');
    await startAppends(steady, 300);
    for (let i = 0; i < 10; i++) {
      // Each load opens the store and writes, and may lead it for a moment.
      await stormy.evaluate((i) => {
        window.toonstore.open('mt-storm').then((s) => s.put(`storm${i}`, { i }));
      }, i).catch(() => {});
      await stormy.reload();
      await stormy.waitForFunction(() => window.ready === true);
    }
    const outcomes = await steady.evaluate(() => window.appends);
    const rows = await rowsIn(steady);
    const codes = checkAppends(outcomes, rows, ['LeaderLost']);
    await inPage(steady, () => window.store.close());
    await openIn(stormy, 'mt-storm', { multiTab: 'exclusive' });
    const rowsAfter = (await rowsIn(stormy)).length;
    assert.equal(rowsAfter, rows.length, JSON.stringify(codes));
    for (const page of [stormy, steady]) await page.close();
  },

  async 'watch in three tabs sees the same changes in the same order'(context) {
    const pages = [await newPage(context), await newPage(context), await newPage(context)];
    for (const page of pages) {
      await openIn(page, 'mt-watch');
      await page.evaluate(() => {
        window.events = [];
        window.prefixed = [];
        window.stopWatching = new AbortController();
        const { signal } = window.stopWatching;
        (async () => {
          for await (const event of window.store.watch({ signal })) window.events.push(event);
        })();
        (async () => {
          for await (const event of window.store.watch({ prefix: 'p/', signal })) window.prefixed.push(event);
        })();
      });
    }
    const [a, b, c] = pages;
    await inPage(a, () => window.store.put('k1', { n: 1 }));
    await inPage(b, () => window.store.put('p/k2', { n: 2 }));
    await inPage(c, () => window.store.batch([
      { type: 'put', key: 'k3', value: {} }, { type: 'delete', key: 'k1' }, { type: 'put', key: 'k3', value: { n: 3 } },
    ]));
    await inPage(b, () => window.store.delete('p/k2'));
    await inPage(a, () => window.store.delete('never-there'));
    await inPage(a, () => window.store.putMany({ 'p/k4': {}, k5: {} }));
    const seen = [];
    for (const page of pages) {
      await page.waitForFunction(() => window.events.length >= 7);
      seen.push(await page.evaluate(async () => {
        await new Promise((resolve) => { setTimeout(resolve, 50); }); // nothing more comes
        window.stopWatching.abort();
        return { events: window.events, prefixed: window.prefixed };
      }));
    }
    const shape = seen[0].events.map(({ key, type }) => `${type} ${key}`);
    assert.deepEqual(shape, ['put k1', 'put p/k2', 'put k3', 'delete k1', 'delete p/k2', 'put p/k4', 'put k5']);
    const versions = seen[0].events.map((e) => e.version);
    assert.ok(versions.every((v, i) => i === 0 || v >= versions[i - 1]), `${versions}`);
    assert.equal(versions[2], versions[3], 'a batch: one version');
    assert.equal(versions[5], versions[6], 'a batch: one version');
    assert.ok(versions[1] > versions[0] && versions[4] > versions[3] && versions[5] > versions[4]);
    for (const other of seen.slice(1)) assert.deepEqual(other, seen[0]);
    assert.deepEqual(seen[0].prefixed.map((e) => e.key), ['p/k2', 'p/k2', 'p/k4']);
    for (const page of pages) await page.close();
  },

  async 'change events are posted only while a page listens, and follow a hand-over'(context) {
    const leader = await newPage(context);
    const watcher = await newPage(context);
    const cached = await newPage(context);
    await openIn(leader, 'mt-listen');
    await openIn(watcher, 'mt-listen');
    await openIn(cached, 'mt-listen-other'); // not listening to this store yet
    // A spy on the changes channel that never says it listens.
    await watcher.evaluate(() => {
      window.spied = [];
      window.spy = new BroadcastChannel('toonstore:mt-listen:p2:changes');
      window.spy.onmessage = ({ data }) => window.spied.push(...data.changes.map((c) => c.key));
    });
    const quiet = () => new Promise((resolve) => { setTimeout(resolve, 150); });
    await inPage(leader, () => Promise.all([window.store.put('k1', 1), window.store.put('k2', 2)]));
    await quiet();
    assert.deepEqual(await watcher.evaluate(() => window.spied), [], 'nobody listens: no events');

    // A watch: the next call of its page runs after the leader heard it listens.
    await watcher.evaluate(async () => {
      window.events = [];
      window.stopWatching = new AbortController();
      (async () => {
        for await (const e of window.store.watch({ signal: window.stopWatching.signal })) window.events.push(e);
      })();
      await window.store.get('k1');
    });
    await inPage(leader, () => window.store.put('k3', 3));
    await watcher.waitForFunction(() => window.events.length >= 1);
    await watcher.evaluate(async () => {
      window.stopWatching.abort();
      await window.store.get('k1');
    });
    await inPage(leader, () => window.store.put('k4', 4));
    await quiet();
    assert.deepEqual(await watcher.evaluate(() => window.events.map((e) => e.key)), ['k3']);
    assert.deepEqual(await watcher.evaluate(() => window.spied), ['k3'], 'events only while watched');
    // A tab that watched closes its store: no more events for it.
    const gone = await newPage(context);
    await openIn(gone, 'mt-listen');
    await gone.evaluate(() => {
      (async () => { for await (const e of window.store.watch()) void e; })();
    });
    await untilDirect(gone);
    await inPage(leader, () => window.store.put('k4', 4));
    await inPage(gone, () => window.store.close());
    await gone.close();
    await quiet();
    await inPage(leader, () => window.store.put('k4', 5));
    await quiet();
    assert.deepEqual(await watcher.evaluate(() => window.spied), ['k3', 'k4'], 'none after the tab closed');

    // Across a clean hand-over: the watch goes on, and a read cache stays coherent.
    await inPage(cached, () => window.store.close());
    await openIn(cached, 'mt-listen', { cache: { bytes: 1 << 20 } });
    await watcher.evaluate(async () => {
      window.events = [];
      (async () => { for await (const e of window.store.watch()) window.events.push(e); })();
      await window.store.get('k1');
    });
    await inPage(cached, async () => { await window.store.get('k5'); await window.store.put('k5', 'old'); return window.store.get('k5'); });
    await inPage(leader, () => window.store.close());
    await leader.close();
    assert.deepEqual(await inPage(cached, () => window.store.get('k5')), 'old');
    await inPage(watcher, () => window.store.put('k5', 'new'));
    const seen = await inPage(cached, async () => {
      for (let i = 0; i < 100; i++) {
        const value = await window.store.get('k5');
        if (value === 'new') return value;
        await new Promise((resolve) => { setTimeout(resolve, 20); });
      }
      return window.store.get('k5');
    });
    assert.equal(seen, 'new', 'the cache heard of the write after the hand-over');
    await watcher.waitForFunction(() => window.events.filter((e) => e.type !== 'missed').length >= 2);
    const keys = await watcher.evaluate(() => window.events.filter((e) => e.type !== 'missed').map((e) => e.key));
    assert.deepEqual(keys, ['k5', 'k5']);
    for (const page of [watcher, cached]) await page.close();
  },

  async 'calls made in one task leave together (128 a message) and settle in call order'(context) {
    const leader = await newPage(context);
    const follower = await newPage(context);
    await openIn(leader, 'mt-batching');
    const counts = [];
    for (const page of [leader, follower]) {
      if (page === follower) await openIn(follower, 'mt-batching');
      counts.push(await page.evaluate(async () => {
        let messages = 0;
        const post = BroadcastChannel.prototype.postMessage;
        const postToWorker = Worker.prototype.postMessage;
        BroadcastChannel.prototype.postMessage = function count(message, ...rest) {
          if (message?.t === 'calls') messages++;
          return post.call(this, message, ...rest);
        };
        Worker.prototype.postMessage = function count(message, ...rest) {
          if (message?.t === 'calls') messages++;
          return postToWorker.call(this, message, ...rest);
        };
        const postToPort = MessagePort.prototype.postMessage;
        MessagePort.prototype.postMessage = function count(message, ...rest) {
          if (message?.t === 'calls') messages++;
          return postToPort.call(this, message, ...rest);
        };
        const order = [];
        const few = [window.store.put('few1', 1), window.store.get('few1'), window.store.delete('few1')];
        await Promise.all(few);
        const forFew = messages;
        const calls = [];
        for (let i = 0; i < 1000; i++) {
          calls.push(window.store.put(`k${i}`, { i }).then(() => order.push(i)));
        }
        calls.push(window.store.get('k999').then((v) => order.push(v.i === 999 ? 'read' : 'stale')));
        await Promise.all(calls);
        BroadcastChannel.prototype.postMessage = post;
        Worker.prototype.postMessage = postToWorker;
        MessagePort.prototype.postMessage = postToPort;
        const inOrder = order.every((v, i) => (i < 1000 ? v === i : v === 'read'));
        return { forFew, messages: messages - forFew, inOrder };
      }));
    }
    // 1,001 calls: seven messages of 128 sent as they fill, the rest at the end of the task.
    const expected = { forFew: 1, messages: 8, inOrder: true };
    assert.deepEqual(counts, [expected, expected]);
    // Puts of one task commit together, but a bad one fails alone.
    const mixed = await inPage(follower, async () => {
      const settled = await Promise.allSettled([
        window.store.put('m1', { n: 1 }), window.store.putText('m2', 'a:\n  b: 1\n c: 2'),
        window.store.putText('m3', 'n: 3'), window.store.put('m4', 1n),
      ]);
      return [settled.map((s) => s.reason?.code ?? 'ok'), await window.store.getMany(['m1', 'm2', 'm3'])];
    });
    assert.deepEqual(mixed, [['ok', 'InvalidDocument', 'ok', 'InvalidDocument'], [{ n: 1 }, undefined, { n: 3 }]]);
    // Puts of objects only (one engine call for them all): a key the engine refuses fails
    // only its own put.
    const objects = await inPage(follower, async () => {
      const settled = await Promise.allSettled([
        window.store.put('o1', 1), window.store.put('', 2), window.store.put('o3', 3), window.store.put('x'.repeat(5000), 4),
      ]);
      return [settled.map((s) => s.reason?.code ?? 'ok'), await window.store.getMany(['o1', 'o3'])];
    });
    assert.deepEqual(objects, [['ok', 'InvalidKey', 'ok', 'TooLarge'], [1, 3]]);
    for (const page of [leader, follower]) await page.close();
  },

  async 'the read cache answers without a message and follows every tab\'s writes'(context) {
    const cached = await newPage(context);
    const writer = await newPage(context);
    await openIn(cached, 'mt-cache', { cache: { bytes: 1 << 20 } });
    await openIn(writer, 'mt-cache');
    await inPage(writer, () => window.store.put('k', { v: 1 }));
    const out = await inPage(cached, async () => {
      const s = window.store;
      const first = await s.get('k');
      // A cached get settles in microtasks, before any task (a message needs one) runs.
      let settled = false;
      s.get('k').then(() => { settled = true; });
      for (let i = 0; i < 10; i++) await Promise.resolve();
      const hit = settled;
      // One frozen object per key, until it changes.
      const same = (await s.get('k')) === first;
      const frozen = Object.isFrozen(first);
      // This tab's own write: the next get sees it, even unawaited.
      const write = s.put('k', { v: 2 });
      const own = await s.get('k');
      await write;
      return { first, hit, same, frozen, own };
    });
    assert.deepEqual(out, { first: { v: 1 }, hit: true, same: true, frozen: true, own: { v: 2 } });
    // Another tab's write reaches the cache with its change event.
    await cached.evaluate(() => {
      window.heard = (async () => {
        for await (const event of window.store.watch()) if (event.version !== undefined) return event;
        return null;
      })();
    });
    await inPage(writer, () => window.store.put('k', { v: 3 }));
    const after = await inPage(cached, async () => {
      await window.heard;
      return window.store.get('k');
    });
    assert.deepEqual(after, { v: 3 });
    for (const page of [cached, writer]) await page.close();
  },
};
