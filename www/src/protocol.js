// @ts-check
// How the tabs of one origin share a store. Every tab that opens it starts a dedicated
// Worker (worker.js) that waits on the store's Web Lock; the one holding it is the leader:
// it loads the engine, owns the OPFS files and answers every tab's calls. The others are
// followers: their calls go from the page straight to the leader's worker over
// BroadcastChannels (client.js), and their workers load nothing until the lock comes to them.
//
// | channel                  | from -> to          | message                                        |
// |--------------------------|---------------------|------------------------------------------------|
// | worker port              | page -> own worker  | {t:'start', name, options, fallback, files,    |
// |                          |                     |   mode: 'shared'|'exclusive', client}          |
// |                          |                     | {t:'calls', calls:[{id, op, args, durable?}]}  |
// |                          |                     | {t:'resign'} (close) {t:'leave'} (pagehide)    |
// |                          |                     | {t:'rejoin'} (pageshow)                        |
// |                          |                     | {t:'connect', client, epoch, port} (a          |
// |                          |                     |   follower's port, from broker.js)             |
// | worker port              | own worker -> page  | {t:'leader', epoch, info, alone?} {t:'locked'} |
// |                          |                     | {t:'failed', error} {t:'fatal', error}         |
// |                          |                     | {t:'results', results} {t:'resigned', ...}     |
// |                          |                     | {t:'bounced', ids} (it no longer leads)        |
// |                          |                     | {t:'changes', ...} (a store alone in its tab)  |
// | `toonstore:NAME:p2:bus`  | leader -> all pages | {t:'leader', epoch, client, info}              |
// |                          |                     | {t:'resign', epoch, taken} (all it took is     |
// |                          |                     |   answered; taken: highest call id per client) |
// |                          | page -> leader      | {t:'hello'}: who leads? (answered by 'leader') |
// | `toonstore:NAME:p2:changes` | leader -> pages  | {t:'changes', epoch, changes:[{key, type,      |
// |                          | that listen         |   version}]} in commit order, posted only while|
// |                          |                     |   some page listens (the call 'listen')        |
// | `toonstore:NAME:p2:calls`| follower -> leader  | {t:'calls', client, epoch, margin,             |
// | (or the follower's own   |                     |   calls:[{id, op, args, deadline, durable?}]}  |
// | port, from broker.js)    |                     | {t:'bye'} (port only: the page went)           |
// | `toonstore:NAME:p2:to:ID`| leader -> follower  | {t:'taken', epoch, ids} (calls that write) then|
// | (or the follower's port) |                     | {t:'results', epoch, results}                  |
//
// A result is {id, ok, version} or {id, error: {code, message, ...}}; `version` is the
// store's next sequence number when the call ran (a read saw every change below it; a write's
// change has the number just below). Calls from one page arrive in order and are answered in
// order, but for 'listen', which a page sends a new leader ahead of the calls that wait. The
// leader takes calls only of its own epoch, and says so ('taken') before running any that
// writes: a follower resends to the next leader the calls nobody took (and reads, which
// change nothing), and fails with LeaderLost the writes a leader took but never answered. A
// call that arrives too close to its deadline is answered Timeout without running.
//
// Change events: {op:'listen', args:{on}} starts or stops a page's listening (a watch or a
// read cache needs them). The leader registers the page with that call's id, forgets it on
// 'bye', and posts events only while some page is registered. A get's result carries the id
// the page is registered with (`listened`): a read cache keeps only answers of its current
// registration with the current leader. The answer to 'listen', {complete}, says whether
// this leader announced every change it made; a page tells each new leader again (and the
// same one after pageshow), and its watchers hear 'missed' when changes may have gone
// unannounced.

/** The Web Lock whose holder leads the store `name`. Not versioned: tabs of two versions of
 * the package must never both lead one store. */
export const lockName = (name) => `toonstore:${name}`;
/** The version of these messages, in every channel's name and the broker's: a tab of
 * another version hears none of them (it waits for the lock, then Locked, until the tabs of
 * the other version have gone), rather than half of them. 2: 'listen'. */
const PROTOCOL = 2;
export const busName = (name) => `toonstore:${name}:p${PROTOCOL}:bus`;
export const callsName = (name) => `toonstore:${name}:p${PROTOCOL}:calls`;
export const changesName = (name) => `toonstore:${name}:p${PROTOCOL}:changes`;
export const replyName = (name, client) => `toonstore:${name}:p${PROTOCOL}:to:${client}`;
export const BROKER_NAME = `toonstore-broker-p${PROTOCOL}`;

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
