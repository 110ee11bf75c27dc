// @ts-check
// A page's side of a store (protocol.js has the messages): it starts the tab's worker, learns
// who leads, and sends each call there: to its own worker when it leads, else over the
// calls channel. Calls made in one task leave together (128 a message). When the leader changes, calls
// nobody took go to the new one and calls taken but never answered fail with LeaderLost.
import { ReadCache, deepFreeze } from './cache.js';
import { ToonStoreError } from './errors.js';
import {
  BROKER_NAME, WRITES, busName, callsName, changesName, keysOf, replyName,
} from './protocol.js';

/** How long a call sent to another tab, or an open, waits by default (ms). */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** How long a closing leader waits for its worker to hand over (ms). */
const RESIGN_WAIT_MS = 10_000;
/** After a leader went without a word, how long calls it may have taken are waited for
 * ('taken' and the next leader's announcement travel different channels), before the
 * ones still not taken go to the next leader (ms). */
const TAKEN_GRACE_MS = 100;
/** How long before its deadline a call must reach the leader to be taken (ms; at most a
 * quarter of the timeout): the time its 'taken' has to come back. */
const DEADLINE_MARGIN_MS = 250;

/** Calls made in one task leave together, in messages of at most this many: the leader
 * starts on the first while the page is still making the rest (1,000 puts in one task took
 * 15-19 ms as one message, 12-16 ms in messages of 128, Chromium 156). */
const MAX_CALLS_PER_MESSAGE = 128;

const randomId = () => (globalThis.crypto?.randomUUID?.() ??
  `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);

/**
 * @typedef {{id: number, op: string, args: any, transfer: Transferable[],
 *   resolve: (value: any) => void, reject: (error: any) => void,
 *   state: 'queued' | 'sent' | 'taken', local: boolean, epoch: number, deadline: number}} Call
 */

/** The error of a call a leader took and never answered. */
const lostError = (call) => ({
  code: 'LeaderLost',
  message: `the tab that led the store took ${call.op} (call ${call.id}) and went without answering: it may or may not have taken effect`,
  call: call.id,
});

export class Client {
  /**
   * @param {string} name
   * @param {{mode: 'shared' | 'exclusive', timeout: number, readOnly: boolean,
   *   durable: boolean, cacheBytes?: number}} settings
   */
  constructor(name, { mode, timeout, readOnly, durable, cacheBytes }) {
    this.name = name;
    this.mode = mode;
    this.timeout = timeout;
    this.readOnly = readOnly;
    this.durable = durable;
    this.id = randomId();
    this.nextId = 1;
    /** @type {Map<number, Call>} calls not yet answered, in call order */
    this.calls = new Map();
    /** @type {Call[]} calls waiting to be sent (this task's, or while no leader is known) */
    this.outbox = [];
    this.flushing = false;
    /** @type {{epoch: number, local: boolean} | null} */
    this.leader = null;
    /** The epoch of the last leader known, and whether it said it resigned. */
    this.lastEpoch = -1;
    this.resigned = true;
    /** The highest change version delivered: watchers never see one go back. */
    this.lastVersion = -1;
    /** @type {ToonStoreError | null} once set, every call fails with it */
    this.gone = null;
    /** close() has begun: later calls fail with Closed. */
    this.closing = false;
    /** The page is hidden (pagehide, maybe in the back/forward cache): it leads nothing
     * until shown again. */
    this.hidden = false;
    /** Resends held back until late 'taken' messages of a vanished leader had time to come. */
    this.graceTimer = null;
    /** @type {Set<{push: (event: object) => void, end: () => void}>} */
    this.watchers = new Set();
    this.cache = cacheBytes ? new ReadCache(cacheBytes) : null;
    /** @type {BroadcastChannel | null} change events, listened to while a watch or the read
     * cache needs them */
    this.changesChannel = null;
    /** Whether this page needs change events (a watch or the read cache), and the id of its
     * last 'listen' call (a read the leader ran after that one is kept by the read cache). */
    this.listening = false;
    this.listenId = -1;
    /** Hidden while listening: change events may have gone unheard (see shown()). */
    this.unheard = false;
    /** Events of leaders before this epoch are dropped: one that vanished is covered by a
     * 'missed' (and the next may give its unsynced versions again). */
    this.eventsFrom = 0;
    /** While a leader is taken on: calls wait in the outbox (sent in order by takeOver). */
    this.holdCalls = false;
    /** The version the leader started at (the `version` of a 'missed' event). */
    this.leaderSince = 0;
    /** @type {MessagePort | null | false} this page's port to the broker (broker.js); false
     * where there is no SharedWorker */
    this.broker = null;
    /** @type {MessagePort | null} a port straight to another tab's leading worker: calls go
     * there once it is ready and nothing sent over the channels waits for an answer */
    this.direct = null;
    /** @type {{port: MessagePort, epoch: number, ready: boolean} | null} */
    this.directPending = null;
    /** @type {MessagePort[]} ports to earlier leaders, kept until their calls are settled */
    this.previousPorts = [];
    this.timer = null;
    this.timerAt = Infinity;
    /** @type {((value: any) => void) | null} */
    this.resignedWith = null;

    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = ({ data }) => this.fromWorker(data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.fail(new ToonStoreError('WorkerGone', `the worker crashed: ${event.message ?? 'unknown error'}`));
    };
    this.worker.onmessageerror = () => this.fail(new ToonStoreError('WorkerGone', 'a message from the worker could not be read'));
    if (mode === 'shared') {
      this.bus = new BroadcastChannel(busName(name));
      this.bus.onmessage = ({ data }) => this.fromBus(data);
      this.callsChannel = new BroadcastChannel(callsName(name));
      this.replies = new BroadcastChannel(replyName(name, this.id));
      this.replies.onmessage = ({ data }) => this.fromLeader(data);
    }
    if (this.cache) this.listenToChanges(true);
  }

  /** Listens to change events, or stops: on the changes channel (each event costs every
   * page that listens), and by telling the leader, which posts events only while some page
   * listens. A leader yet to come is told when it comes (follow). */
  listenToChanges(on) {
    if (this.listening === on) return;
    this.listening = on;
    if (this.mode === 'shared' && on) {
      this.changesChannel = new BroadcastChannel(changesName(this.name));
      this.changesChannel.onmessage = ({ data }) => {
        // An earlier leader's events too: it committed them before the next one could lead
        // (the lock passes only when it is gone), so they come before the next one's; but
        // not those of one that vanished ('missed' covers them).
        if (data?.t === 'changes' && data.epoch >= this.eventsFrom) this.changes(data);
      };
    } else if (!on) {
      this.changesChannel?.close();
      this.changesChannel = null;
    }
    if (this.leader) this.tellListening(on, false);
  }

  /** Tells the leader whether this page listens. `afterLeader`: the page listened to the
   * last leader, so its watchers hear if this one made changes it never announced. */
  tellListening(on, afterLeader) {
    const epoch = this.leader?.epoch;
    this.listenId = on ? this.nextId : -1;
    // What the cache holds was kept under an earlier registration, with a gap since (or it
    // is empty already): only answers of this one are kept.
    if (on) this.cache?.clear();
    this.call('listen', { on }).then((answer) => {
      if (on && afterLeader && !answer?.complete) this.missed();
    }, (e) => {
      if (!on || this.gone || !this.listening) return;
      // Unheard (a frozen leader, say): changes may go unannounced until it hears, so the
      // watchers are told, and it is told again while it leads (a new leader is told by
      // follow).
      this.missed();
      if (e?.code === 'Timeout' && this.leader && this.leader.epoch === epoch) this.tellListening(true, true);
    });
  }

  /** Watchers may have missed changes: they hear it, and versions start over. */
  missed() {
    for (const watcher of this.watchers) watcher.push({ type: 'missed', version: this.leaderSince });
    this.lastVersion = -1;
  }

  /** The store is this page's alone (in memory, or exclusive): no channels to other tabs. */
  alone() {
    this.mode = 'exclusive';
    this.bus?.close();
    this.callsChannel?.close();
    this.replies?.close();
    this.changesChannel?.close();
    this.bus = null;
    this.callsChannel = null;
    this.replies = null;
    this.changesChannel = null;
  }

  /** This page's port to the broker, or false where SharedWorker is missing. */
  brokerPort() {
    if (this.broker === null) {
      try {
        const broker = new SharedWorker(new URL('./broker.js', import.meta.url), { name: BROKER_NAME });
        broker.port.onmessage = ({ data }) => this.fromBroker(data);
        this.broker = broker.port;
      } catch {
        this.broker = false; // no SharedWorker (or not allowed here): the channels do
      }
    }
    return this.broker;
  }

  /** A new leader: the old direct port is dead; a leading page registers with the broker,
   * a follower asks it for a port to the leader. */
  connectDirect(epoch, local) {
    // The old ports stay open until takeOver: a 'taken' or an answer may still be on them.
    if (this.direct) this.previousPorts.push(this.direct);
    if (this.directPending) this.previousPorts.push(this.directPending.port);
    this.direct = null;
    this.directPending = null;
    if (this.mode !== 'shared') return;
    const broker = this.brokerPort();
    if (!broker) return;
    if (local) {
      broker.postMessage({ t: 'lead', name: this.name, epoch });
      return;
    }
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = ({ data }) => this.fromLeader(data, port1);
    this.directPending = { port: port1, epoch, ready: false };
    broker.postMessage({ t: 'connect', name: this.name, client: this.id, epoch, port: port2 }, [port2]);
  }

  /** Calls go over the direct port from now on, once nothing sent another way waits (an
   * answer over the channel could otherwise come after a later call's over the port). */
  switchToDirect() {
    const pending = this.directPending;
    if (!pending?.ready || pending.epoch !== this.leader?.epoch) return;
    for (const call of this.calls.values()) if (!call.local && call.state !== 'queued') return;
    this.direct = pending.port;
    this.directPending = null;
  }

  /** From the broker (this page's worker leads): a follower's port, for the worker. */
  fromBroker(data) {
    if (data?.t !== 'connect') return;
    if (this.leader?.local && this.leader.epoch === data.epoch && !this.gone) {
      this.worker.postMessage({ t: 'connect', client: data.client, epoch: data.epoch, port: data.port }, [data.port]);
    } else {
      data.port.close();
    }
  }

  /** Starts the worker; settles with the leader's info once calls can be answered. */
  start(args, transfer) {
    return new Promise((resolve, reject) => {
      this.opening = { resolve, reject, options: args.options };
      this.openTimer = setTimeout(() => {
        this.openFailed(new ToonStoreError('Locked', `the store "${this.name}" did not open in ${this.timeout} ms: another tab holds it alone (multiTab: 'exclusive'), or its leader does not answer`));
      }, this.timeout);
      this.worker.postMessage({ t: 'start', ...args, mode: this.mode, client: this.id }, transfer);
      this.bus?.postMessage({ t: 'hello' });
    });
  }

  openFailed(error) {
    if (!this.opening) return;
    const { reject } = this.opening;
    this.opening = null;
    clearTimeout(this.openTimer);
    this.teardown(new ToonStoreError('Closed', 'the store did not open'));
    reject(error);
  }

  opened(info) {
    if (!this.opening) return;
    const { resolve } = this.opening;
    this.opening = null;
    clearTimeout(this.openTimer);
    resolve(info);
  }

  /** Sends `op` to the leader; settles with its answer. */
  call(op, args, transfer = []) {
    if (this.gone) return Promise.reject(this.gone);
    if (this.closing && op !== 'sync' && op !== 'listen') return Promise.reject(new ToonStoreError('Closed', 'the store is closing'));
    if (this.readOnly && WRITES.has(op)) {
      return Promise.reject(new ToonStoreError('ReadOnly', 'the store was opened with readOnly'));
    }
    if (this.cache) {
      for (const key of keysOf(op, args)) this.cache.change(key, Infinity);
      if (op === 'getJson') this.cache.reads();
    }
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      /** @type {Call} */
      const call = {
        id, op, args, transfer, resolve, reject, state: 'queued', local: false, epoch: 0,
        deadline: Date.now() + this.timeout,
      };
      this.calls.set(id, call);
      this.outbox.push(call);
      if (this.outbox.length >= MAX_CALLS_PER_MESSAGE && this.leader && !this.graceTimer && !this.holdCalls) {
        this.flush();
      } else if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  /** Sends what waits in the outbox, as one message, if a leader is known (and not waiting
   * out a grace period). */
  flush() {
    this.flushing = false;
    if (!this.leader || this.outbox.length === 0 || this.graceTimer) {
      this.armTimer();
      return;
    }
    const calls = this.outbox;
    this.outbox = [];
    const { epoch, local } = this.leader;
    // Only the fields a call needs (each costs its clone): a deadline when another tab runs
    // it, `durable` when it must be synced.
    const wire = calls.map(({ id, op, args, deadline }) => {
      const sent = local ? { id, op, args } : { id, op, args, deadline };
      if (this.durable && WRITES.has(op)) sent.durable = true;
      return sent;
    });
    for (const call of calls) {
      call.state = local ? 'taken' : 'sent';
      call.local = local;
      call.epoch = epoch;
    }
    if (local) {
      this.worker.postMessage({ t: 'calls', calls: wire }, calls.flatMap((call) => call.transfer));
    } else {
      const margin = Math.min(DEADLINE_MARGIN_MS, this.timeout / 4);
      (this.direct ?? this.callsChannel).postMessage({ t: 'calls', client: this.id, epoch, margin, calls: wire });
    }
    this.armTimer();
  }

  /** Times out calls that wait on another tab (or on a leader) past their deadline. */
  armTimer() {
    let next = Infinity;
    for (const call of this.calls.values()) if (!call.local && call.deadline < next) next = call.deadline;
    if (next === Infinity || next >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => {
      this.timerAt = Infinity;
      const now = Date.now();
      for (const call of this.calls.values()) {
        if (call.local || call.deadline > now) continue;
        // A call the leader took may have run (it is answered Timeout if it had not started
        // by its deadline); one it never took never runs.
        const taken = call.state === 'taken';
        this.settle(call, {
          error: {
            code: 'Timeout',
            message: taken
              ? `${call.op} got no answer in ${this.timeout} ms from the tab that leads the store (frozen or hidden?): it may or may not have taken effect`
              : `${call.op} was not run: no tab that leads the store took it in ${this.timeout} ms`,
            taken,
          },
        });
      }
      this.outbox = this.outbox.filter((call) => this.calls.has(call.id));
      this.armTimer();
    }, Math.max(0, next - Date.now()));
  }

  settle(call, result) {
    this.calls.delete(call.id);
    if (this.directPending?.ready) this.switchToDirect();
    if (this.cache) this.cacheResult(call, result);
    if (result.error) {
      const { code, message, ...details } = result.error;
      call.reject(new ToonStoreError(code, message, details));
    } else {
      call.resolve(result.ok);
    }
  }

  cacheResult(call, result) {
    const cache = /** @type {ReadCache} */ (this.cache);
    if (call.op === 'getJson') {
      if (result.error) {
        cache.failed();
      } else {
        // With a cache, a get's answer is the frozen value the cache keeps: settle with it.
        const json = result.ok;
        result.ok = json === undefined ? undefined : deepFreeze(JSON.parse(json));
        // Kept only if this leader will announce the key's next change to this page: it
        // says so, and it still leads (an earlier leader's late answer says nothing of the
        // next one, which announces only to pages that told it they listen).
        const announced = result.listened === this.listenId && call.epoch === this.leader?.epoch;
        cache.answer(call.args.key, json, result.ok, result.version, announced);
      }
    }
    for (const key of keysOf(call.op, call.args)) {
      cache.change(key, result.error ? Infinity : result.version - 1);
    }
  }

  /** Answers, by id, from whoever they came from. */
  results(results, epoch) {
    for (const result of results) {
      const call = this.calls.get(result.id);
      if (call && (epoch === undefined || call.epoch === epoch)) this.settle(call, result);
    }
  }

  fromWorker(data) {
    switch (data.t) {
      case 'leader':
        if (data.alone) this.alone();
        this.follow(data.epoch, true, data.info);
        break;
      case 'results':
        this.results(data.results);
        break;
      case 'changes':
        this.changes(data);
        break;
      case 'bounced': {
        // Sent to this tab's worker as it stopped leading: never run; they wait for a leader.
        if (this.leader?.local) this.leader = null;
        for (const id of data.ids) {
          const call = this.calls.get(id);
          if (call?.local) Object.assign(call, { state: 'queued', local: false });
          if (call) this.outbox.push(call);
        }
        this.outbox.sort((a, b) => a.id - b.id);
        this.flush();
        if (!this.hidden) this.show(); // its worker queues for the lock (once)
        break;
      }
      case 'locked':
        // This tab's worker holds the lock: the tab that led is gone, whether or not it said so.
        if (this.leader && !this.leader.local) this.leader = null;
        break;
      case 'failed': {
        // This tab's worker could not open the store as leader: the open fails with why; an
        // open store gives why to the calls that wait for a leader (none took them: the old
        // leader was gone when this worker got the lock), LeaderLost to those it took, and
        // its worker tries again later (the lock went to the next tab).
        const error = new ToonStoreError(data.error.code, data.error.message, data.error);
        if (this.opening) {
          this.openFailed(error);
          break;
        }
        if (this.leader) break;
        // Calls never sent, and reads: a write sent to the leader that went may have run (its
        // 'taken' late); the next leader settles those, or their timeout does.
        for (const call of [...this.calls.values()]) {
          if (!call.local && (call.state === 'queued' || (call.state === 'sent' && !WRITES.has(call.op)))) {
            this.settle(call, { error: data.error });
          }
        }
        this.outbox = this.outbox.filter((call) => this.calls.has(call.id));
        break;
      }
      case 'fatal':
        this.fail(new ToonStoreError('WorkerGone', data.error.message));
        break;
      case 'resigned':
        if (this.resignedWith) {
          this.resignedWith(data);
        } else if (!data.leading && this.leader?.local !== false) {
          // A close that timed out finished after all: this tab goes on without it (shared:
          // its worker queues for the lock again; alone: the store is closed).
          this.leader = null;
          this.resigned = true;
          if (this.mode !== 'shared') {
            this.teardown(new ToonStoreError('Closed', 'the store is closed'));
          } else if (!this.hidden) {
            this.show();
          }
        }
        break;
      default:
    }
  }

  fromBus(data) {
    switch (data?.t) {
      case 'leader':
        if (!this.leader || data.epoch > this.leader.epoch) {
          this.follow(data.epoch, data.client === this.id, data.info);
        }
        break;
      case 'resign':
        if (data.epoch === this.lastEpoch) {
          // Every call of this page it took is answered; those it took but whose 'taken'
          // is still on its way are known from the highest id it names.
          const highest = data.taken?.[this.id] ?? 0;
          for (const call of this.calls.values()) {
            if (call.state === 'sent' && call.epoch === data.epoch && call.id <= highest) call.state = 'taken';
          }
          if (this.leader?.epoch === data.epoch) this.leader = null;
          this.resigned = true;
        }
        break;
      default:
    }
  }

  fromLeader(data, port = null) {
    if (data?.t === 'connected') {
      if (port && this.directPending?.port === port && data.epoch === this.leader?.epoch) {
        this.directPending.ready = true;
        this.switchToDirect();
      }
    } else if (data?.t === 'taken') {
      for (const id of data.ids) {
        const call = this.calls.get(id);
        if (call && call.epoch === data.epoch && call.state === 'sent') call.state = 'taken';
      }
    } else if (data?.t === 'results') {
      this.results(data.results, data.epoch);
    }
  }

  /** A leader (this tab's worker, or another tab's) answers from now on. */
  follow(epoch, local, info) {
    // The last leader went without saying so (or one came and went unheard of): changes it
    // committed but never announced may exist, and the next leader may give their versions
    // again. Watchers hear that they may have missed some, and versions start over.
    const another = this.lastEpoch >= 0 && epoch !== this.lastEpoch;
    const vanished = another && (!this.resigned || epoch > this.lastEpoch + 1);
    this.leaderSince = info.version;
    if (vanished) {
      this.missed();
      this.eventsFrom = epoch;
    }
    this.leader = { epoch, local };
    this.connectDirect(epoch, local);
    this.lastEpoch = epoch;
    this.resigned = false;
    this.cache?.clear();
    // First of all this page's calls to the new leader (takeOver puts it first, and sends it
    // with the calls that wait, in order: none leaves before).
    this.holdCalls = true;
    if (this.listening) this.tellListening(true, another && !vanished);
    this.holdCalls = false;
    const unsettled = [...this.calls.values()].some((call) => !call.local &&
      (call.state === 'sent' || call.state === 'taken') && call.epoch < epoch);
    if (unsettled) {
      // A 'taken' or an answer of the last leader may still be on its way (on another
      // channel than the next leader's word): wait a little before taking silence for
      // 'never taken' or 'never answered'.
      clearTimeout(this.graceTimer);
      this.graceTimer = setTimeout(() => {
        this.graceTimer = null;
        if (this.leader?.epoch === epoch) this.takeOver(epoch);
      }, TAKEN_GRACE_MS);
    } else {
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
      this.takeOver(epoch);
    }
    if (!this.opening) return;
    if (local || !this.opening.options) {
      this.opened(info);
      return;
    }
    // Another tab's engine opened the files: it checks this tab's options as an open here
    // would have (again at the next leader if this one went first).
    const { options } = this.opening;
    this.call('checkOptions', { options }).then(
      () => this.opened(info),
      (e) => { if (e?.code !== 'LeaderLost') this.openFailed(e); },
    );
  }

  /** Calls of earlier leaders: resent if none took them, LeaderLost if one took them and
   * went without an answer. Then whatever waits goes to the leader of `epoch`, in call order. */
  takeOver(epoch) {
    for (const port of this.previousPorts) port.close();
    this.previousPorts = [];
    const resend = [];
    for (const call of this.calls.values()) {
      if (call.state === 'sent' && call.epoch < epoch) {
        call.state = 'queued';
        resend.push(call);
      } else if (call.state === 'taken' && !call.local && call.epoch < epoch) {
        this.settle(call, { error: lostError(call) });
      }
    }
    // In call order, but a page's word that it listens first: changes its own calls make
    // are then announced to it.
    const listenFirst = (call) => (call.op === 'listen' ? 0 : 1);
    this.outbox = [...resend, ...this.outbox].sort((a, b) => listenFirst(a) - listenFirst(b) || a.id - b.id);
    this.flush();
  }

  /** Change events from the leader, in commit order: to the read cache and the watchers. */
  changes({ changes }) {
    for (const change of changes) {
      this.cache?.change(change.key, change.version);
      if (change.version < this.lastVersion) continue;
      this.lastVersion = change.version;
      // Each watcher its own object: one consumer's changes to it reach no other.
      for (const watcher of this.watchers) watcher.push({ ...change });
    }
  }

  /** Change events as an async iterable, until `signal` aborts or the store closes.
   * @param {{prefix?: string, signal?: AbortSignal}} [options] */
  watch({ prefix = '', signal } = {}) {
    const events = [];
    /** @type {Array<(value?: any) => void>} */
    let waiters = [];
    let ended = false;
    const wake = () => {
      const woken = waiters;
      waiters = [];
      for (const resolve of woken) resolve();
    };
    const watcher = {
      push: (event) => {
        if (event.type !== 'missed' && !event.key.startsWith(prefix)) return;
        events.push(event);
        wake();
      },
      end: () => {
        ended = true;
        this.watchers.delete(watcher);
        signal?.removeEventListener('abort', watcher.end);
        if (this.watchers.size === 0 && !this.cache) this.listenToChanges(false);
        wake();
      },
    };
    if (this.gone) {
      ended = true;
    } else {
      this.watchers.add(watcher);
      this.listenToChanges(true);
    }
    if (signal?.aborted) watcher.end();
    else signal?.addEventListener('abort', watcher.end, { once: true });
    return {
      [Symbol.asyncIterator]() { return this; },
      async next() {
        while (events.length === 0 && !ended) await new Promise((resolve) => { waiters.push(resolve); });
        if (events.length) return { value: events.shift(), done: false };
        return { value: undefined, done: true };
      },
      async return() {
        watcher.end();
        return { value: undefined, done: true };
      },
    };
  }

  /** This page is going away (pagehide; `persisted`: into the back/forward cache, from which
   * it may come back): a leading worker hands over at once. */
  hide(persisted = false) {
    this.hidden = true;
    if (this.mode !== 'shared' || this.gone) return;
    if (this.leader?.local) {
      this.leader = null;
      this.resigned = true; // by this page's own word: no changes go unannounced
    }
    // A leading worker hands over; a waiting one stops waiting (a hidden page may be
    // frozen: holding the lock then would stall every tab).
    this.worker.postMessage({ t: 'leave' });
    // A frozen page may not hear change events: what it cached may go stale.
    if (this.listening) {
      this.cache?.clear();
      this.unheard = true;
    }
    // Gone for good: the leader answers what came before, then closes its end of the port
    // and forgets that this page listens. A page that may come back keeps both.
    if (!persisted && this.direct) {
      this.direct.postMessage({ t: 'bye' });
      // Answers to what went before still come on it; anything later goes over the channels.
      this.previousPorts.push(this.direct);
      this.direct = null;
    }
  }

  /** Back from the back/forward cache (pageshow): leads or follows again, and as change
   * events may have gone unheard while it was frozen, its cache starts empty and its
   * watchers hear 'missed'. */
  shown() {
    this.show();
    if (this.gone || !this.unheard) return;
    this.unheard = false;
    this.cache?.clear();
    this.missed();
    // Registered again with the leader it follows (a new one is told by follow()).
    if (this.leader && !this.leader.local) this.tellListening(true, false);
  }

  /** Back from the back/forward cache (or back from leading): wait for the lock again (a
   * worker that already waits or leads ignores it), ask who leads. */
  show() {
    this.hidden = false;
    if (this.gone || this.mode !== 'shared') return;
    this.worker.postMessage({ t: 'rejoin' });
    this.bus?.postMessage({ t: 'hello' });
  }

  /** Closes this tab's use of the store: writes made from here are durable once it settles;
   * a leading worker closes the files and hands over. On failure (at the quota) the store
   * stays open here. */
  async close() {
    if (this.gone) return;
    if (this.closing) throw new ToonStoreError('InvalidArgument', 'close() is already under way');
    this.closing = true;
    try {
      await this.closeNow();
    } finally {
      this.closing = false;
    }
  }

  async closeNow() {
    if (this.hidden && !this.leader?.local) {
      // Hidden (pagehide): this page's worker handed over (its close synced) or waits for
      // nothing, and a page going away cannot wait on another tab's sync.
      this.teardown(new ToonStoreError('Closed', 'the store is closed'));
      return;
    }
    if (!this.leader?.local) {
      // A follower: its writes made durable by the leader; nothing else to hand over. It no
      // longer listens (said in the same message, as a 'bye' may never leave a closing page).
      if (this.listening) this.call('listen', { on: false }).catch(() => {});
      try {
        await this.call('sync', {});
      } catch (e) {
        // Still open here: listening again (whatever changed meanwhile may be unheard).
        if (this.listening) this.tellListening(true, true);
        throw e;
      }
      if (!this.leader?.local) {
        this.teardown(new ToonStoreError('Closed', 'the store is closed'));
        return;
      }
    }
    // The leader: calls made before close go first (the worker answers all it has before it
    // resigns), then the engine closes (synced, with its index snapshot) and the lock passes.
    this.flush();
    const epoch = this.leader?.epoch ?? this.lastEpoch;
    const answer = await new Promise((resolve) => {
      this.resignedWith = resolve;
      this.leader = null;
      this.resigned = true;
      this.worker.postMessage({ t: 'resign' });
      setTimeout(() => resolve({ timedOut: true }), RESIGN_WAIT_MS);
    });
    this.resignedWith = null;
    if (answer.timedOut) {
      // The worker did not answer (stopped, or stuck in a long call): the store may still
      // be open there, its last writes not synced. Not closed: say so.
      this.leader = { epoch, local: true };
      throw new ToonStoreError('Timeout', `the store did not close in ${RESIGN_WAIT_MS} ms`);
    }
    if (answer.leading) {
      // Still the leader, the store still open here (at the quota: make room, close again).
      this.leader = { epoch, local: true };
      this.resigned = false;
      const error = answer.error ?? { code: 'Io', message: 'the store is still open here' };
      throw new ToonStoreError(error.code, error.message, error);
    }
    this.teardown(new ToonStoreError('Closed', 'the store is closed'));
    if (answer.error) throw new ToonStoreError(answer.error.code, answer.error.message, answer.error);
  }

  /** The worker is gone: every pending and later call fails with `error`. */
  fail(error) {
    if (this.gone) return;
    this.teardown(error);
  }

  teardown(error) {
    this.gone ??= error;
    this.direct?.postMessage({ t: 'bye' });
    for (const port of this.previousPorts) port.close();
    this.cache?.clear();
    clearTimeout(this.timer);
    clearTimeout(this.graceTimer);
    for (const call of this.calls.values()) call.reject(this.gone);
    this.calls.clear();
    this.outbox = [];
    for (const watcher of [...this.watchers]) watcher.end();
    this.worker.terminate();
    this.bus?.close();
    this.direct?.close();
    this.directPending?.port.close();
    this.changesChannel?.close();
    this.callsChannel?.close();
    this.replies?.close();
  }
}
