// @ts-check
// ToonStore in the browser: a promise API on the main thread; the store itself lives in a
// dedicated Worker (./worker.js) of one tab, which every tab of the origin shares
// (./client.js, ./protocol.js), so the main thread never blocks on storage.
import { Client, DEFAULT_TIMEOUT_MS } from './client.js';
import { ToonStoreError } from './errors.js';

export { ToonStoreError };

const SCAN_CHUNK = 256;

/** Documents cross to the worker as JSON text: JSON.stringify's rules apply (members that
 * are undefined or functions are left out, NaN becomes null, toJSON is called). */
function toJson(value) {
  let json;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw new ToonStoreError('InvalidDocument', `not a JSON value: ${e.message}`);
  }
  if (json === undefined) throw new ToonStoreError('InvalidDocument', 'not a JSON value');
  return json;
}

/** JSON.parse defines every member as an own property: a key `__proto__` stays data. */
const fromJson = (json) => (json === undefined ? undefined : JSON.parse(json));

/** One open store. Values are plain JSON-like objects; `...Text` methods take TOON text. */
class Store {
  /** @param {Client} client */
  constructor(client, name, info) {
    this.client = client;
    this.name = name;
    this.backend = info.backend;
  }

  call(op, args, transfer) {
    return this.client.call(op, args, transfer);
  }

  async put(key, value) { return this.call('putJson', { key, json: toJson(value) }); }
  putText(key, text) { return this.call('putText', { key, text }); }
  get(key) {
    const { cache } = this.client;
    if (!cache || this.client.gone || this.client.closing) return this.call('getJson', { key }).then(fromJson);
    // With a read cache: a cached document settles without a message, and every get gives
    // the cache's frozen value (decoded once per change, see cache.js).
    const cached = cache.get(key);
    if (cached !== undefined) return Promise.resolve(cached.value);
    return this.call('getJson', { key });
  }
  getText(key) { return this.call('getText', { key }); }
  delete(key) { return this.call('delete', { key }); }
  async append(value) { return this.call('append', { text: toJson(value), json: true }); }
  appendText(text) { return this.call('append', { text, json: false }); }
  async getRow(id) { return fromJson(await this.call('getRowJson', { id })); }

  /** Puts and deletes, all or none: `[{type: 'put', key, value} | {type: 'putText', key,
   * text} | {type: 'delete', key}]`. */
  async batch(ops) {
    const encoded = ops.map((op) => (op?.type === 'put'
      ? { type: 'putJson', key: op.key, json: toJson(op.value) }
      : op));
    return this.call('batch', { ops: encoded });
  }

  /** Puts many entries (`[[key, value], ...]` or an object) in one atomic batch. */
  putMany(entries) {
    const list = Array.isArray(entries) ? entries : Object.entries(entries);
    return this.batch(list.map(([key, value]) => ({ type: 'put', key, value })));
  }

  async getMany(keys) { return (await this.call('getManyJson', { keys })).map(fromJson); }

  /** `[key, value]` pairs in key order, fetched in chunks: `{prefix, from, to, limit, text}`
   * (`to` excluded; `text` gives TOON text instead of values).
   * @param {{prefix?: string, from?: string, to?: string, limit?: number, text?: boolean}} [options] */
  async *scan({ prefix, from, to, limit = Infinity, text = false } = {}) {
    let after;
    let left = limit;
    while (left > 0) {
      const chunk = await this.call('scan', {
        prefix, from, to, after, text, limit: Math.min(SCAN_CHUNK, left),
      });
      for (const [key, value] of chunk) yield [key, text ? value : JSON.parse(value)];
      if (chunk.length < Math.min(SCAN_CHUNK, left)) return;
      left -= chunk.length;
      after = chunk[chunk.length - 1][0];
    }
  }

  /** `{format: 'files'}` (default): the store's files by name, the same bytes as a native
   * store's directory; `{format: 'toon', prefix}`: the documents as one TOON document.
   * @param {{format?: string, prefix?: string}} [options] */
  export({ format = 'files', prefix } = {}) {
    if (format === 'toon') return this.call('exportToon', { prefix });
    if (format === 'files') return this.call('exportFiles', {});
    return Promise.reject(new ToonStoreError('InvalidArgument', `unknown format ${format}`));
  }

  /** Puts records (objects) keyed by their field `keyField`, in one batch. */
  import(records, { keyField = 'id' } = {}) {
    const entries = records.map((record, i) => {
      const key = record?.[keyField];
      if (typeof key !== 'string' && typeof key !== 'number') {
        throw new ToonStoreError('InvalidArgument', `record ${i + 1} has no field "${keyField}"`);
      }
      return [String(key), record];
    });
    return this.putMany(entries);
  }

  /** Asks the browser to keep this origin's data through storage pressure; whether it will.
   * Firefox may ask the user, so this waits on an answer: call it from a user's action. */
  async persist() {
    const storage = storageManager();
    return typeof storage.persist === 'function' ? storage.persist() : false;
  }

  /** The browser's estimate for this origin: `{usage, quota}` in bytes. */
  async estimate() {
    const { usage = 0, quota = 0 } = (await storageManager().estimate?.()) ?? {};
    return { usage, quota };
  }

  /** Every committed change in any tab, in commit order: `{key, type: 'put' | 'delete',
   * version}` (a batch: one event per key, one version), or `{type: 'missed', version}` when
   * the tab that led the store went without a word (changes it made may not have been
   * announced). Ends when `signal` aborts or the store closes.
   * @param {{prefix?: string, signal?: AbortSignal}} [options] */
  watch(options) { return this.client.watch(options); }

  compact() { return this.call('compact', {}); }
  stats() { return this.call('stats', {}); }
  sync() { return this.call('sync', {}); }

  /** Makes this tab's writes durable and lets the store go here (a leading tab hands it to
   * the next). At the quota it may fail: the store then stays open. */
  async close() {
    await this.client.close();
    pages.delete(this.client);
  }
}

/** The origin's StorageManager, or StorageUnavailable. */
function storageManager() {
  const storage = globalThis.navigator?.storage;
  if (!storage) throw new ToonStoreError('StorageUnavailable', 'this page has no StorageManager');
  return storage;
}

/**
 * Opens (or creates) the store `name` in OPFS, shared by every tab of the origin that opens
 * it: one tab's worker leads (holds the Web Lock and the files) and the others send it their
 * calls; when it goes, another takes over. `multiTab: 'exclusive'` opens it for this tab alone
 * (`Locked` at once if another has it). Waits up to `timeout` ms (default 30 s) for the store
 * (`Locked` then), and as long for each answer from another tab (`Timeout`).
 * `StorageUnavailable` where the browser gives workers no OPFS sync access handles (Safari
 * private browsing, old browsers), unless `options.memory` (always in memory) or
 * `options.fallback: 'memory'` (in memory there): a store in memory is this tab's alone.
 * `options.files` (from `export()`) creates the store from a native store's files (exclusive).
 * `options.cache: {bytes}` keeps documents read by `get` in this page, coherent with every
 * tab's writes. Never asks the user anything: persistence is asked for by `store.persist()`.
 * @param {string} name
 * @param {import('./index.js').OpenOptions} [options]
 */
export async function open(name, options = {}) {
  // Imported during server-side rendering, the module does nothing; opening says why not.
  if (typeof Worker === 'undefined') {
    throw new ToonStoreError('StorageUnavailable', 'no Web Workers here (server-side rendering?): open the store in a browser');
  }
  const {
    files, fallback, multiTab = 'shared', timeout = DEFAULT_TIMEOUT_MS, cache, ...engineOptions
  } = options;
  if (fallback !== undefined && fallback !== 'memory') {
    throw new ToonStoreError('InvalidOption', `fallback must be 'memory', not ${JSON.stringify(fallback)}`);
  }
  if (multiTab !== 'shared' && multiTab !== 'exclusive') {
    throw new ToonStoreError('InvalidOption', `multiTab must be 'shared' or 'exclusive', not ${JSON.stringify(multiTab)}`);
  }
  if (!(timeout > 0)) {
    throw new ToonStoreError('InvalidOption', `timeout must be a number of milliseconds above 0, not ${JSON.stringify(timeout)}`);
  }
  const cacheBytes = cache?.bytes;
  if (cache !== undefined && !(Number.isSafeInteger(cacheBytes) && cacheBytes > 0)) {
    throw new ToonStoreError('InvalidOption', `cache.bytes must be a whole number of bytes above 0, not ${JSON.stringify(cacheBytes)}`);
  }
  const client = new Client(name, {
    // A store in memory is this tab's alone, and one made from files starts alone.
    mode: files || engineOptions.memory ? 'exclusive' : multiTab,
    timeout,
    readOnly: Boolean(engineOptions.readOnly),
    durable: engineOptions.durability === 'immediate',
    cacheBytes,
  });
  const transfer = files ? Object.values(files).map((bytes) => bytes.buffer) : [];
  const info = await client.start({ name, options: engineOptions, fallback, files }, transfer);
  const store = new Store(client, name, info);
  pages.add(client);
  return store;
}

/** The clients of this page: on pagehide a leading one hands the store over at once. */
const pages = new Set();
if (typeof addEventListener === 'function') {
  addEventListener('pagehide', (event) => {
    for (const client of pages) {
      if (client.gone) pages.delete(client);
      else client.hide(event.persisted);
    }
  });
  addEventListener('pageshow', (event) => {
    if (event.persisted) for (const client of pages) client.shown();
  });
}
