// @ts-check
// The dedicated Worker that owns one store (see worker-core.js for what it does).
//
// Protocol: requests {id, op, args}; replies {id, ok} or {id, error: {code, message, ...}};
// ArrayBuffers travel as transfers. A wasm trap is fatal: the reply says WorkerGone and the
// worker closes.
import { lastPanic } from '../pkg/toonstore_wasm.js';
import { CodedError, current, ensureSlots, operations, releaseSlots } from './worker-core.js';

/** The transfer list for a reply: the buffers of exported files. */
function transfers(result) {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return [];
  return Object.values(result).filter((v) => v instanceof Uint8Array).map((v) => v.buffer);
}

/** Calls retried once at the quota after freed slots are given back. */
const ROOM_MAKERS = new Set(['delete', 'batch', 'compact', 'sync', 'close']);

// Requests run one at a time, in order: the engine is synchronous and single-threaded here.
let queue = Promise.resolve();
let waiting = 0;
let idleFlush = null;

/** Once no request waits, buffered writes go to OPFS, so a reload or a closed tab keeps
 * them (durable only at sync/close: a browser crash may still lose them). After the reply,
 * so no call waits for it. */
function flushWhenIdle() {
  if (idleFlush || !current()) return;
  idleFlush = setTimeout(() => {
    idleFlush = null;
    if (waiting === 0 && current()) {
      try {
        current().flush();
      } catch {
        // The next call reports the store's state (full, poisoned).
      }
    }
  }, 0);
}

self.onmessage = ({ data: { id, op, args } }) => {
  waiting++;
  queue = queue.then(async () => {
    try {
      const run = operations[op];
      if (!run) throw new CodedError('InvalidArgument', `unknown operation ${op}`);
      if (!current() && !['open', 'close'].includes(op)) {
        throw new CodedError('Closed', 'the store is closed');
      }
      let ok;
      for (let attempt = 1; ; attempt++) {
        try {
          ok = await run(args ?? {});
          break;
        } catch (e) {
          // At the quota: the store gave up its reserve or freed slots, whose bytes the
          // browser returns only once their handles close. Close them and try again the calls
          // that make room or make acknowledged writes durable (a compaction frees a segment
          // per step, so it may take a few rounds).
          const retries = op === 'compact' ? 8 : 1;
          const full = e?.code === 'QuotaExceeded' || e?.name === 'QuotaExceededError';
          if (!full || !ROOM_MAKERS.has(op) || !current() || attempt > retries) {
            throw e;
          }
          await releaseSlots();
        }
      }
      // Housekeeping after an answer is known: its failure (at the quota, say) never turns a
      // call that took effect into an error; the next call tries again.
      if (current() && op !== 'close' && op !== 'open') await ensureSlots().catch(() => {});
      self.postMessage({ id, ok }, transfers(ok));
      if (--waiting === 0) flushWhenIdle();
    } catch (e) {
      waiting--;
      if (e instanceof WebAssembly.RuntimeError) {
        self.postMessage({ id, fatal: true, error: { code: 'WorkerGone', message: lastPanic() ?? e.message } });
        self.close();
        return;
      }
      // Our codes are strings; a DOMException's legacy `code` is a number.
      const code = typeof e?.code === 'string' ? e.code
        : e?.name === 'QuotaExceededError' ? 'QuotaExceeded' : 'Io';
      const error = { code, message: e?.message ?? String(e) };
      if (e?.line !== undefined) Object.assign(error, { line: e.line, column: e.column });
      if (e?.size !== undefined) Object.assign(error, { size: e.size, limit: e.limit });
      self.postMessage({ id, error });
    }
  });
};
