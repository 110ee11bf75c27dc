// The dedicated Worker that owns one store (see worker-core.js for what it does).
//
// Protocol: requests {id, op, args}; replies {id, ok} or {id, error: {code, message, ...}};
// ArrayBuffers travel as transfers. A wasm trap is fatal: the reply says WorkerGone and the
// worker closes.
import { lastPanic } from '../pkg/toonstore_wasm.js';
import { CodedError, current, ensureSlots, operations } from './worker-core.js';

/** The transfer list for a reply: the buffers of exported files. */
function transfers(result) {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return [];
  return Object.values(result).filter((v) => v instanceof Uint8Array).map((v) => v.buffer);
}

// Requests run one at a time, in order: the engine is synchronous and single-threaded here.
let queue = Promise.resolve();

self.onmessage = ({ data: { id, op, args } }) => {
  queue = queue.then(async () => {
    try {
      const run = operations[op];
      if (!run) throw new CodedError('InvalidArgument', `unknown operation ${op}`);
      if (!current() && !['open', 'close', 'conformance'].includes(op)) {
        throw new CodedError('Closed', 'the store is closed');
      }
      const ok = await run(args ?? {});
      if (current() && op !== 'close' && op !== 'open') await ensureSlots();
      self.postMessage({ id, ok }, transfers(ok));
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        self.postMessage({ id, fatal: true, error: { code: 'WorkerGone', message: lastPanic() ?? e.message } });
        self.close();
        return;
      }
      const code = e?.code ?? (e?.name === 'QuotaExceededError' ? 'QuotaExceeded' : 'Io');
      const error = { code, message: e?.message ?? String(e) };
      if (e?.line !== undefined) Object.assign(error, { line: e.line, column: e.column });
      if (e?.size !== undefined) Object.assign(error, { size: e.size, limit: e.limit });
      self.postMessage({ id, error });
    }
  });
};
