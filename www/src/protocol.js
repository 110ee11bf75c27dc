// @ts-check
// How the tabs of one origin share a store. Every tab that opens it starts a dedicated
// Worker (worker.js) that waits on the store's Web Lock; the one holding it is the leader:
// it loads the engine, owns the OPFS files and answers every tab's calls. The others are
// followers: their calls go from the page straight to the leader's worker over
// BroadcastChannels (client.js), and their workers load nothing until the lock comes to them.
//
// | channel                | from -> to          | message                                          |
// |------------------------|---------------------|--------------------------------------------------|
// | worker port            | page -> own worker  | {t:'start', name, options, fallback, files,      |
// |                        |                     |   mode: 'shared'|'exclusive', client}            |
// |                        |                     | {t:'calls', calls:[{id, op, args}]}               |
// |                        |                     | {t:'resign'} (pagehide, close) {t:'rejoin'}       |
// | worker port            | own worker -> page  | {t:'leader', epoch, info} {t:'failed', error}    |
// |                        |                     | {t:'results', results} {t:'resigned'}            |
// | `toonstore:NAME:bus`   | leader -> all pages | {t:'leader', epoch, client, info}                |
// |                        |                     | {t:'resign', epoch} (it answered all it took)     |
// |                        | page -> leader      | {t:'hello'}: who leads? (answered by 'leader')    |
// | `toonstore:NAME:changes` | leader -> pages   | {t:'changes', epoch, changes:[{key, type,         |
// |                        | with a watch or a   |   version}]} in commit order, posted only while a |
// |                        | read cache          |   page listens (it says so with the call 'listen')|
// | `toonstore:NAME:calls` | follower -> leader  | {t:'calls', client, epoch, deadline,              |
// |                        |                     |   calls:[{id, op, args, durable}]}                |
// | `toonstore:NAME:to:ID` | leader -> follower  | {t:'taken', epoch, ids} (calls that write) then  |
// | (or the follower's own |                     | {t:'results', epoch, results}                    |
// | port, from broker.js)  |                     |                                                  |
//
// A result is {id, ok, version} or {id, error: {code, message, ...}}; `version` is the
// store's next sequence number when the call ran (a read saw every change below it; a write's
// change has the number just below). A get's result says also whether the leader announces
// changes to its page (`listened`: only then may a read cache keep it). The call
// {op:'listen', args:{on}} starts or stops a page's listening, in order with its other calls;
// its answer {complete} says whether this leader announced every change it made (a page tells
// each new leader again, and its watchers hear 'missed' if not). Calls from one page arrive in order and are answered in
// order. The leader takes calls only of its own epoch, and says so ('taken') before running
// any that writes: a follower resends to the next leader the calls nobody took (and reads,
// which change nothing), and fails with LeaderLost the writes a leader took but never
// answered. A call that arrives too close to its deadline is answered Timeout without running.

/** The Web Lock whose holder leads the store `name`. */
export const lockName = (name) => `toonstore:${name}`;
export const busName = (name) => `toonstore:${name}:bus`;
export const callsName = (name) => `toonstore:${name}:calls`;
export const changesName = (name) => `toonstore:${name}:changes`;
export const replyName = (name, client) => `toonstore:${name}:to:${client}`;

/** The file beside the slots that counts leader epochs (8 bytes, little-endian). */
export const EPOCH_FILE = 'leader-epoch';

/** Whether this context can keep a store in OPFS (only dedicated workers can). */
export function opfsAvailable() {
  return typeof navigator.storage?.getDirectory === 'function' &&
    typeof FileSystemFileHandle !== 'undefined' &&
    'createSyncAccessHandle' in FileSystemFileHandle.prototype;
}

/** Calls that change documents: refused in a read-only tab, synced after when the calling
 * tab asked for `immediate` durability. */
export const WRITES = new Set(['putJson', 'putText', 'delete', 'append', 'batch', 'compact']);

/** The changes a call made, as watch events without their version: one per key. */
export function changesOf(op, args, ok) {
  switch (op) {
    case 'putJson':
    case 'putText':
      return [{ key: args.key, type: 'put' }];
    case 'delete':
      return ok ? [{ key: args.key, type: 'delete' }] : [];
    case 'batch': {
      // One event per key: the last op on it decides.
      const last = new Map();
      for (const op of args.ops) last.set(op.key, op.type === 'delete' ? 'delete' : 'put');
      return [...last].map(([key, type]) => ({ key, type }));
    }
    default:
      return [];
  }
}

/** The keys a call may change (what a page's read cache forgets when it is sent). */
export function keysOf(op, args) {
  if (op === 'batch') return args.ops.map((op) => op?.key);
  if (op === 'putJson' || op === 'putText' || op === 'delete') return [args.key];
  return [];
}
