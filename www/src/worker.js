// @ts-check
// The dedicated Worker every tab that opens a store starts (protocol.js: who talks to whom).
// It waits on the store's Web Lock; once it holds it, it loads the engine (worker-core.js),
// opens the files and answers calls: its own page's over the worker port, other tabs' over
// BroadcastChannels. Until then it loads nothing. Calls run one at a time, in order: the
// engine is synchronous and single-threaded here.
import {
  WRITES, busName, callsName, changesName, changesOf, lockName, opfsAvailable, replyName,
} from './protocol.js';

/** @type {any} worker-core.js, imported once this worker leads (it brings the wasm glue). */
let core = null;
/** The page's start message: {name, options, fallback, files, mode, client}. */
let config = null;
let epoch = 0;
/** The store's version when this worker took it: what watchers may have missed before. */
let since = 0;
let leading = false;
let resigning = false;
let releaseLock = null;
/** Whether this worker has asked for the lock (waiting or holding), and whether its page
 * asked for it again while it was handing over. */
let lockAsked = false;
let rejoinAfterResign = false;
/** After a failed open as leader, the next try waits this long (ms), doubling. */
let retryDelay = 0;
/** Shared mode only: the bus (announcements, hello), change events, the followers' calls. */
let bus = null;
let changesChannel = null;
let callsChannel = null;
/** Followers' reply channels by client id, and their direct ports. */
const replies = new Map();
const MAX_REPLY_CHANNELS = 64;
const followerPorts = new Set();

let queue = Promise.resolve();

/** The pages that listen to change events, by client id (OWN_PAGE for this worker's page),
 * each with the id of the 'listen' call that registered it: events are posted only while
 * one listens, as each post costs a write (a BroadcastChannel post took 18 us here, a fifth
 * of an awaited put). Whether a change went unannounced since this worker began leading: a
 * page that listened to the last leader hears then that its watchers may have missed
 * changes. Reset whenever leading starts. */
const listeners = new Map();
let unannounced = false;
const OWN_PAGE = '';

function startListening() {
  listeners.clear();
  unannounced = false;
}

self.onmessage = ({ data }) => {
  switch (data.t) {
    case 'start':
      start(data);
      break;
    case 'calls':
      // Its page thought this worker led; if it no longer does (it handed over, or is doing
      // so), the calls go back untouched, for the page to send to whoever leads.
      if (!leading || resigning) self.postMessage({ t: 'bounced', ids: data.calls.map(({ id }) => id) });
      else enqueue(data.calls, OWN_PAGE, (results) => self.postMessage({ t: 'results', results }, transfers(results)));
      break;
    case 'resign':
      resign().then(
        (error) => self.postMessage({ t: 'resigned', error, leading }),
        (e) => self.postMessage({ t: 'resigned', error: encodeError(e), leading }),
      );
      break;
    case 'rejoin':
      pageHidden = false;
      if (resigning) rejoinAfterResign = true;
      else if (config && !leading) waitForLock();
      break;
    case 'leave':
      // The page is hidden: lead nothing until it is shown (a frozen page's worker holding
      // the lock would stall every tab).
      rejoinAfterResign = false;
      pageHidden = true;
      if (leading) resign().catch(() => {});
      else lockRequest?.abort();
      break;
    case 'connect':
      connect(data);
      break;
    default:
  }
};

/** Starts as the page asked: alone in memory, alone in OPFS (exclusive), or shared. */
async function start(message) {
  config = message;
  const { options = {}, fallback } = message;
  try {
    const memory = options.memory || (fallback === 'memory' && !opfsAvailable());
    if (memory || message.mode === 'exclusive' || !navigator.locks) {
      // A store only this page sees: in memory (each tab has its own), or OPFS with the lock
      // taken at once or Locked.
      core = await import('./worker-core.js');
      const stats = memory ? await core.openHeld(message) : await core.open(message);
      since = core.current().nextSequence();
      startListening();
      leading = true;
      // Alone: the page leaves the tabs' channels (a store in memory is this tab's only).
      self.postMessage({ t: 'leader', epoch: 0, alone: true, info: info(stats) });
      return;
    }
    if (!opfsAvailable()) {
      core = await import('./worker-core.js');
      await core.openHeld(message); // fails with StorageUnavailable, as an exclusive open does
    }
    waitForLock();
  } catch (e) {
    self.postMessage({ t: 'failed', error: encodeError(e) });
  }
}

/** Queues for the store's lock (once: a request already made stands); leads from when it
 * comes until resign. A failed open gives the lock to the next tab and asks again later. */
function waitForLock() {
  if (lockAsked) return;
  lockAsked = true;
  lockRequest = new AbortController();
  navigator.locks.request(lockName(config.name), { signal: lockRequest.signal }, async () => {
    lockRequest = null;
    if (pageHidden) {
      // The page went hidden while this waited (the abort came too late): pass it on.
      lockAsked = false;
      return undefined;
    }
    // The lock is this worker's: whoever led before is gone (its page hears it at once).
    self.postMessage({ t: 'locked' });
    try {
      await lead();
    } catch (e) {
      // Could not open (damaged files, the quota, handles another context keeps): the page
      // hears why, the lock goes to the next tab, and this one tries again after a while.
      self.postMessage({ t: 'failed', error: encodeError(e) });
      retryDelay = Math.min(Math.max(2 * retryDelay, 250), 30_000);
      setTimeout(() => {
        if (config && !leading && !lockAsked) waitForLock();
      }, retryDelay);
      lockAsked = false;
      return undefined;
    }
    retryDelay = 0;
    // Held until resign() calls releaseLock (which also clears lockAsked).
    return new Promise((release) => { releaseLock = release; });
  }).catch(() => {
    // Aborted while waiting (the page was hidden): asked again when it is shown.
    lockRequest = null;
    lockAsked = false;
  });
}

/** The pending lock request's abort switch, while waiting; whether the page is hidden. */
let lockRequest = null;
let pageHidden = false;

async function lead() {
  core ??= await import('./worker-core.js');
  const stats = await core.openHeld(config);
  try {
    // Counted once the store is open: a failed takeover leaves no gap for followers to take
    // for a vanished leader.
    epoch = await core.nextEpoch(config.name);
  } catch (e) {
    await core.close().catch(() => {});
    throw e;
  }
  since = core.current().nextSequence();
  startListening();
  leading = true;
  bus = new BroadcastChannel(busName(config.name));
  bus.onmessage = ({ data }) => {
    if (data?.t === 'hello') announce();
  };
  changesChannel = new BroadcastChannel(changesName(config.name));
  callsChannel = new BroadcastChannel(callsName(config.name));
  callsChannel.onmessage = ({ data }) => fromFollower(data);
  leaderInfo = info(stats);
  self.postMessage({ t: 'leader', epoch, info: leaderInfo });
  announce();
}

const info = (stats) => ({ backend: stats.backend, version: since });

/** What this leader tells every page about the store. */
let leaderInfo = null;

function announce() {
  bus?.postMessage({ t: 'leader', epoch, client: config.client, info: leaderInfo });
}

/** A follower's own port (from the broker, through this worker's page): its calls come and
 * their answers go there, until it says bye (a crashed tab's port stays until this leader
 * hands over: closing one a live follower still uses would drop its calls). */
function connect({ client, epoch: theirs, port }) {
  if (!leading || resigning || theirs !== epoch) {
    port.close();
    return;
  }
  port.onmessage = ({ data }) => {
    if (data?.t === 'bye') {
      // The follower's page went for good or closed its store: no more events for it, and
      // its port closes once what it sent before is answered.
      queue = queue.then(() => {
        port.close();
        followerPorts.delete(port);
        listeners.delete(client);
      });
    } else {
      fromFollower(data, port);
    }
  };
  port.postMessage({ t: 'connected', epoch });
  followerPorts.add(port);
}

function fromFollower({ t, client, epoch: theirs, calls, margin = DEADLINE_MARGIN_MS }, port = null) {
  // Calls meant for an earlier leader come again, addressed to this one, once their sender
  // hears of it: taking them now too would run them twice.
  if (t !== 'calls' || theirs !== epoch || resigning || !leading) return;
  if (config.options?.readOnly && calls.some(({ op }) => WRITES.has(op))) {
    // This tab opened the files read-only, and a tab that writes needs them: it hands over
    // without taking these calls (their sender resends them to the next leader) and queues
    // for the lock again.
    resign().then(() => waitForLock(), () => {});
    return;
  }
  const reply = port ?? replyChannel(client);
  // Only calls with time left: one taken past its deadline could run after its sender said
  // it never would (the margin, which the sender sets from its timeout, covers the 'taken'
  // message's way back).
  const now = Date.now();
  const live = [];
  const late = [];
  for (const call of calls) {
    (call.deadline === undefined || now <= call.deadline - margin ? live : late).push(call);
  }
  // 'taken' only for writes: a read that runs twice (resent after this leader went) changes
  // nothing, and a message less halves a follower's get.
  if (live.some(({ op }) => WRITES.has(op))) {
    for (const { id } of live) taken[client] = Math.max(taken[client] ?? 0, id);
    reply.postMessage({ t: 'taken', epoch, ids: live.map(({ id }) => id) });
  }
  if (late.length) {
    // Answered in turn, after the calls queued before them (which may be this follower's).
    const results = late.map(({ id, op }) => notRun(id, op));
    queue = queue.then(() => {
      try {
        reply.postMessage({ t: 'results', epoch, results });
      } catch {
        // A channel closed under the answer: the follower times the calls out itself.
      }
    });
  }
  if (live.length) enqueue(live, client, (results) => reply.postMessage({ t: 'results', epoch, results }));
}

/** How long before its deadline a follower's call must arrive to be taken (ms), unless the
 * follower says less (a quarter of a short timeout). */
const DEADLINE_MARGIN_MS = 250;

/** The highest call id taken from each client, for the resign message: a follower that
 * hears it knows which of its calls ran even if a 'taken' is still on its way. */
let taken = {};

const notRun = (id, op) => ({ id, error: { code: 'Timeout', message: `${op} was not run: it waited past its timeout`, taken: false } });

function replyChannel(client) {
  let channel = replies.get(client);
  if (channel) {
    replies.delete(client);
  } else {
    channel = new BroadcastChannel(replyName(config.name, client));
    if (replies.size >= MAX_REPLY_CHANNELS) {
      // Forgotten, not closed: answers still queued for it may use it.
      replies.delete(replies.keys().next().value);
    }
  }
  replies.set(client, channel); // most recently used last
  return channel;
}

/** Runs `calls` after every call queued before them; `reply` gets their results, in order.
 * The writes answered go to OPFS right after the reply is posted, in the same task, before
 * the next message is taken: a leader that closes or reloads keeps them (its resign comes
 * after), and no call waits for the write. Durable only at sync or close: a crash may still
 * lose what was not synced. */
function enqueue(calls, client, reply) {
  queue = queue.then(async () => {
    const results = [];
    const changes = [];
    let fatal = null;
    let wrote = false;
    for (let i = 0; i < calls.length; i++) {
      if (fatal) {
        results.push({ id: calls[i].id, error: { code: 'WorkerGone', message: fatal } });
        continue;
      }
      if (WRITES.has(calls[i].op)) wrote = true;
      if (calls[i].op === 'listen') {
        results.push(listen(calls[i], client));
        continue;
      }
      const puts = putsFrom(calls, i);
      if (puts > 1 && commitTogether(calls.slice(i, i + puts), results, changes)) {
        i += puts - 1;
        if (results[results.length - 1].fatal) fatal = results[results.length - 1].error.message;
        else await core.ensureSlots().catch(() => {});
        continue;
      }
      const result = await run(calls[i], client, changes);
      if (result.fatal) fatal = result.error.message;
      results.push(result);
    }
    reply(results);
    // Change events after the answer (posting to a channel costs every call it delays);
    // commit order holds, as the worker posts them in order.
    if (changes.length && listeners.size === 0) {
      unannounced = true;
    } else if (changes.length) {
      const message = { t: 'changes', epoch, changes };
      if (changesChannel) changesChannel.postMessage(message);
      else self.postMessage(message);
    }
    if (wrote && core?.current() && !fatal) {
      try {
        core.current().flush();
      } catch {
        // The next call reports the store's state (full, poisoned).
      }
    }
    if (fatal) {
      // A trap leaves the engine's memory undefined: this worker ends, and with it the lock.
      self.postMessage({ t: 'fatal', error: { code: 'WorkerGone', message: fatal } });
      self.close();
    }
  }).catch((e) => {
    // Never a wedged queue: whatever broke here (a channel closed under a reply) is said,
    // and the next message runs.
    self.postMessage({ t: 'fatal', error: { code: 'WorkerGone', message: `the worker failed: ${e?.message ?? e}` } });
  });
}

/** How many calls from `calls[i]` on are plain puts (that can commit as one batch). */
function putsFrom(calls, i) {
  let j = i;
  while (j < calls.length && (calls[j].op === 'putJson' || calls[j].op === 'putText')) j++;
  return j - i;
}

/** Commits puts made in one task as one engine batch (one record, one checksum, one write)
 * and answers each; false, with nothing changed, if the batch failed: then each runs alone
 * and gets its own answer (an invalid document fails only its own put). */
function commitTogether(puts, results, changes) {
  const store = core?.current();
  if (!store || puts.some(({ deadline }) => deadline !== undefined && Date.now() > deadline)) return false;
  const before = store.nextSequence();
  let failure = null;
  try {
    if (puts.every(({ op }) => op === 'putJson')) {
      store.putManyJson(puts.map(({ args }) => args.key), puts.map(({ args }) => args.json));
    } else {
      store.batch(puts.map(({ op, args }) => (op === 'putJson'
        ? { type: 'putJson', key: args.key, json: args.json }
        : { type: 'putText', key: args.key, text: args.text })));
    }
    if (puts.some(({ durable }) => durable)) store.sync();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      const error = { code: 'WorkerGone', message: core.lastPanic() ?? e.message };
      for (const { id } of puts) results.push({ id, fatal: true, error });
      return true;
    }
    if (store.nextSequence() === before) return false;
    // Committed, but the sync a tab asked for failed: every put says so.
    failure = encodeError(e);
  }
  const version = store.nextSequence();
  for (const { id } of puts) results.push(failure ? { id, error: failure } : { id, ok: undefined, version });
  // One event per key, all with the batch's version.
  for (const key of new Set(puts.map(({ args }) => args.key))) changes.push({ key, type: 'put', version: before });
  return true;
}

/** Calls retried once at the quota after freed slots are given back. */
const ROOM_MAKERS = new Set(['delete', 'batch', 'compact', 'sync']);

/** A page starts or stops listening to change events. Its answer says whether every change
 * since this worker began leading was announced. */
function listen({ id, args }, client) {
  if (args?.on) listeners.set(client, id);
  else listeners.delete(client);
  return { id, ok: { complete: !unannounced } };
}

async function run({ id, op, args = {}, durable, deadline }, client, changes) {
  if (deadline !== undefined && Date.now() > deadline) return notRun(id, op);
  const store = core?.current();
  try {
    const operation = core?.operations[op];
    if (!operation) throw coded('InvalidArgument', `unknown operation ${op}`);
    if (!store) throw coded('Closed', 'the store is closed');
    const before = store.nextSequence();
    let ok;
    for (let attempt = 1; ; attempt++) {
      try {
        ok = await operation(args);
        break;
      } catch (e) {
        // At the quota: the store gave up its reserve or freed slots, whose bytes the
        // browser returns only once their handles close. Close them and try again the calls
        // that make room or make acknowledged writes durable (a compaction frees a segment
        // per step, so it may take a few rounds).
        const retries = op === 'compact' ? 8 : 1;
        const full = e?.code === 'QuotaExceeded' || e?.name === 'QuotaExceededError';
        if (!full || !ROOM_MAKERS.has(op) || attempt > retries) throw e;
        await core.releaseSlots();
      }
    }
    for (const change of changesOf(op, args, ok)) changes.push({ ...change, version: before });
    // A tab that asked for `immediate` durability has its writes synced whatever the
    // leader's own setting.
    if (durable && WRITES.has(op)) store.sync();
    // Housekeeping after an answer is known: its failure (at the quota, say) never turns a
    // call that took effect into an error; the next call tries again.
    await core.ensureSlots().catch(() => {});
    const result = { id, ok, version: store.nextSequence() };
    // A read cache keeps an answer only if every later change to its key will be announced
    // to it: it knows which of its registrations this is.
    if (op === 'getJson') result.listened = listeners.get(client);
    return result;
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      return { id, fatal: true, error: { code: 'WorkerGone', message: core.lastPanic() ?? e.message } };
    }
    return { id, error: encodeError(e) };
  }
}

/** Stops leading once every call taken is answered: closes the store (flushed, synced, with
 * its index snapshot) and lets the lock go to the next tab. At the quota the close may fail
 * with the store still open: then this worker keeps leading and says why. Any other failure
 * leaves no store: it hands over all the same, and says why. */
function resign() {
  // A second resign (close again after a Timeout, or a close during a read-only hand-over)
  // gets the first one's outcome, never an early "done".
  resignation ??= resignOnce().finally(() => { resignation = null; });
  return resignation;
}

let resignation = null;

async function resignOnce() {
  if (!leading) return undefined;
  resigning = true;
  await queue;
  let error;
  try {
    await closeStore();
  } catch (e) {
    error = encodeError(e);
    if (core.current()) {
      resigning = false;
      return error;
    }
  }
  callsChannel?.close();
  callsChannel = null;
  bus?.postMessage({ t: 'resign', epoch, taken });
  bus?.close();
  bus = null;
  changesChannel?.close();
  changesChannel = null;
  replies.clear();
  for (const port of followerPorts) port.close();
  followerPorts.clear();
  taken = {};
  leading = false;
  resigning = false;
  releaseLock?.();
  releaseLock = null;
  lockAsked = false;
  if (rejoinAfterResign) {
    rejoinAfterResign = false;
    waitForLock();
  }
  return error;
}

async function closeStore() {
  try {
    await core.close();
  } catch (e) {
    const full = e?.code === 'QuotaExceeded' || e?.name === 'QuotaExceededError';
    if (!full || !core.current()) throw e;
    await core.releaseSlots();
    await core.close();
  }
}

function coded(code, message) {
  return Object.assign(new Error(message), { code });
}

/** An error as it crosses to a page: a string `code` and what else it says. */
function encodeError(e) {
  // Our codes are strings; a DOMException's legacy `code` is a number.
  const code = typeof e?.code === 'string' ? e.code
    : e?.name === 'QuotaExceededError' ? 'QuotaExceeded' : 'Io';
  const error = { code, message: e?.message ?? String(e) };
  if (e?.line !== undefined) Object.assign(error, { line: e.line, column: e.column });
  if (e?.size !== undefined) Object.assign(error, { size: e.size, limit: e.limit });
  return error;
}

/** The transfer list for results sent to the own page: the buffers of exported files. */
function transfers(results) {
  const list = [];
  for (const { ok } of results) {
    if (!ok || typeof ok !== 'object' || Array.isArray(ok)) continue;
    for (const value of Object.values(ok)) if (value instanceof Uint8Array) list.push(value.buffer);
  }
  return list;
}
