// @ts-check
// What the worker does with its one store, apart from listening and leading (worker.js): the
// engine inside is synchronous; what is asynchronous happens around it: opening OPFS sync
// access handles for the store's slot files (ahead of need), and nothing else (slots are
// reused, never removed). The benchmark worker and the conformance test worker import it too.
import init, { WasmStore } from '../pkg/toonstore_wasm.js';
import { EPOCH_FILE, lockName, opfsAvailable } from './protocol.js';

export { lastPanic } from '../pkg/toonstore_wasm.js';

/** Spare slots kept open so the engine can create files (segments, hints) synchronously. */
const SPARE_SLOTS = 4;
const SLOT_PREFIX = 'slot-';

let store = null;
let directory = null;
let nextSlot = 0;
let releaseLock = null;

export class CodedError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}


async function storeDirectory(name, create) {
  const root = await navigator.storage.getDirectory();
  const stores = await root.getDirectoryHandle('toonstore', { create: true });
  return stores.getDirectoryHandle(name, { create });
}

/** How long a file held by another context (a reloading page's old worker, which the
 * browser ends a little after its page) is waited for before the store counts as Locked. */
const HANDLE_WAIT_MS = 5000;

/** A sync access handle on `fileHandle`, retried with backoff while another context holds
 * the file: the Web Lock changes hands before the old worker's handles are closed. */
async function openHandle(fileHandle) {
  const started = Date.now();
  for (let delay = 5; ; delay = Math.min(delay * 2, 250)) {
    try {
      return await fileHandle.createSyncAccessHandle();
    } catch (e) {
      if (e.name !== 'NoModificationAllowedError') throw e;
      if (Date.now() - started > HANDLE_WAIT_MS) {
        throw new CodedError('Locked', 'the store is open elsewhere (another tab or worker)');
      }
      await new Promise((resolve) => { setTimeout(resolve, delay); });
    }
  }
}

/** Opens a sync access handle on every slot file of the store: `[name, handle]` pairs. */
async function openSlots(dir) {
  const handles = [];
  try {
    for await (const [name, handle] of dir.entries()) {
      if (handle.kind !== 'file' || !name.startsWith(SLOT_PREFIX)) continue;
      nextSlot = Math.max(nextSlot, Number(name.slice(SLOT_PREFIX.length)) + 1);
      handles.push([name, await openHandle(handle)]);
    }
  } catch (e) {
    // Those opened before the failure are let go, or the next leader would wait on them.
    for (const [, handle] of handles) handle.close();
    throw e;
  }
  return handles;
}

/** Creates `count` new, empty slot files and opens them: `[name, handle]` pairs. */
export async function newSlots(dir, count) {
  const handles = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = SLOT_PREFIX + String(nextSlot++).padStart(6, '0');
      handles.push([name, await openHandle(await dir.getFileHandle(name, { create: true }))]);
    }
  } catch (e) {
    // Those made before the failure are let go: a later leader would wait on them.
    for (const [, handle] of handles) handle.close();
    throw e;
  }
  return handles;
}

/** Closes and removes the slot files the store freed (their headers say free): a browser
 * gives a file's bytes back to the quota only once its sync access handle is closed. */
export async function releaseSlots() {
  if (directory) await dropSlots(store.releaseSlots());
}

/** Closes `[name, handle]` slots and removes their files. */
async function dropSlots(slots) {
  for (const [name, handle] of slots) {
    handle.close();
    await directory?.removeEntry(name).catch(() => {}); // a free slot left behind is harmless
  }
}

/** Gives freed slots' bytes back, then keeps at least `wanted` free slots open. */
export async function ensureSlots(wanted = SPARE_SLOTS) {
  if (!directory) return;
  await releaseSlots();
  const missing = wanted - store.freeSlots();
  if (missing > 0) store.addSlots(await newSlots(directory, missing));
}

/** Takes the store's Web Lock at once or fails with Locked; held until close. (The package's
 * worker waits for it instead: see worker.js.) */
async function lock(name) {
  if (!navigator.locks) return;
  await new Promise((resolve, reject) => {
    navigator.locks.request(lockName(name), { ifAvailable: true }, (held) => {
      if (!held) {
        reject(new CodedError('Locked', `the store "${name}" is open in another tab`));
        return undefined;
      }
      resolve();
      return new Promise((release) => { releaseLock = release; });
    });
  });
}

/** Opens the store alone in this origin: takes its lock at once (or Locked), then its files.
 * @param {OpenArgs} args */
export async function open(args) {
  if (store) throw new CodedError('InvalidArgument', 'this worker already holds a store');
  await lock(args.name);
  try {
    return await openHeld(args);
  } catch (e) {
    releaseLock?.();
    releaseLock = null;
    throw e;
  }
}

/** @typedef {{name: string, options?: {memory?: boolean}, fallback?: string,
 *   files?: Record<string, Uint8Array>}} OpenArgs */

/** Opens the store whose Web Lock the caller holds (or which lives in memory); its stats.
 * @param {OpenArgs} args */
export async function openHeld({ name, options = {}, fallback, files }) {
  if (store) throw new CodedError('InvalidArgument', 'this worker already holds a store');
  await init();
  let slots = [];
  try {
    if (!options.memory && !opfsAvailable() && fallback !== 'memory') {
      throw new CodedError('StorageUnavailable', 'this browser gives workers no OPFS sync access handles (Safari private browsing, older browsers): open with {memory: true}, or {fallback: \'memory\'}, for a store that lasts as long as the page');
    }
    if (options.memory || !opfsAvailable()) {
      if (files) throw new CodedError('InvalidArgument', 'files can only be opened on OPFS');
      store = WasmStore.openMemory(options);
      return store.stats();
    }
    directory = await storeDirectory(name, true);
    slots = await openSlots(directory);
    if (files) {
      const count = Object.keys(files).length + SPARE_SLOTS;
      slots = slots.concat(await newSlots(directory, Math.max(0, count - slots.length)));
      WasmStore.importFiles(slots, files);
    }
    if (slots.length < SPARE_SLOTS) slots = slots.concat(await newSlots(directory, SPARE_SLOTS));
    store = WasmStore.openOpfs(slots, options);
    // Spare slots are housekeeping: the store is open whether or not they could be made now
    // (the next call tries again).
    await ensureSlots().catch(() => {});
    return store.stats();
  } catch (e) {
    // A store that did not open holds nothing: its slot files stay free for another try.
    if (!store) for (const [, handle] of slots) handle.close();
    directory = null;
    throw e;
  }
}

/** The next leader epoch of the store `name`, kept in its OPFS directory beside the slots
 * (one 8-byte little-endian count): every leader gets a larger one than any before it.
 * Call with the store's Web Lock held. */
export async function nextEpoch(name) {
  const dir = await storeDirectory(name, true);
  const handle = await openHandle(await dir.getFileHandle(EPOCH_FILE, { create: true }));
  try {
    const bytes = new DataView(new ArrayBuffer(8));
    const read = handle.read(bytes, { at: 0 });
    const epoch = (read === 8 ? Number(bytes.getBigUint64(0, true)) : 0) + 1;
    bytes.setBigUint64(0, BigInt(epoch), true);
    handle.write(bytes, { at: 0 });
    handle.flush();
    return epoch;
  } finally {
    handle.close();
  }
}

export async function close() {
  if (!store) return;
  try {
    // The slots the store freed come back to be closed and removed with it.
    await dropSlots(store.close());
  } catch (e) {
    // At the quota the store stays open, its writes kept: a later close (after deletes and
    // a compaction, or the worker's retry once freed slots are given back) finishes it.
    if (e?.code === 'QuotaExceeded') throw e;
    forget();
    throw e;
  }
  forget();
}

/** Lets go of the closed store, its directory and its lock. */
function forget() {
  store.free();
  store = null;
  directory = null;
  releaseLock?.();
  releaseLock = null;
}

/** The open store (a `WasmStore`), or null. */
export function current() {
  return store;
}

/** The calls a store answers, by name (see protocol.js). */
export const operations = {
  putJson: ({ key, json }) => store.putJson(key, json),
  putText: ({ key, text }) => store.putText(key, text),
  getJson: ({ key }) => store.getJson(key),
  getText: ({ key }) => store.getText(key),
  delete: ({ key }) => store.delete(key),
  append: ({ text, json }) => store.append(text, Boolean(json)),
  getRowJson: ({ id }) => store.getRowJson(id),
  scan: ({ prefix, from, to, after, limit, text }) =>
    store.scan(prefix, from, to, after, limit ?? 256, Boolean(text)),
  batch: ({ ops }) => store.batch(ops),
  getManyJson: ({ keys }) => store.getManyJson(keys),
  exportFiles: () => store.exportFiles(),
  exportToon: ({ prefix }) => store.exportToon(prefix),
  compact: async () => {
    // Best effort: at the quota, the compaction itself is what makes room.
    await ensureSlots(store.stats().segments + SPARE_SLOTS).catch(() => {});
    return store.compact();
  },
  stats: () => store.stats(),
  sync: () => store.sync(),
  // A follower's open options, checked as its own open would (InvalidOption).
  checkOptions: ({ options }) => WasmStore.checkOptions(options),
  // Tests: an uncaught error, as a crash of the worker would raise.
  // The call never returns: the queue behind it waits, as it would on a hung engine.
  __crash: () => new Promise(() => { setTimeout(() => { throw new Error('crash requested'); }, 50); }),
};

