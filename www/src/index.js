// @ts-check
// ToonStore in the browser: a promise API on the main thread; the store itself lives in a
// dedicated Worker (./worker.js), so the main thread never blocks on storage.

/** An error from the store, with a stable `code` (see index.d.ts). */
export class ToonStoreError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'ToonStoreError';
    this.code = code;
    Object.assign(this, details);
  }
}

/** Talks to one worker: requests carry ids, replies settle them. */
class Connection {
  constructor() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.pending = new Map();
    this.nextId = 1;
    this.gone = null;
    this.worker.onmessage = ({ data }) => this.settle(data);
    const fail = (message) => this.fail(message);
    this.worker.onerror = (event) => {
      event.preventDefault();
      fail(`the worker crashed: ${event.message ?? 'unknown error'}`);
    };
    this.worker.onmessageerror = () => fail('a message from the worker could not be read');
  }

  request(op, args, transfer = []) {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args }, transfer);
    });
  }

  settle({ id, ok, error, fatal }) {
    const waiting = this.pending.get(id);
    this.pending.delete(id);
    if (fatal) {
      this.fail(error.message);
      waiting?.reject(this.gone);
      return;
    }
    if (!waiting) return;
    if (error) {
      const { code, message, ...details } = error;
      waiting.reject(new ToonStoreError(code, message, details));
    } else {
      waiting.resolve(ok);
    }
  }

  /** The worker is gone: every pending and later call fails with WorkerGone. */
  fail(message) {
    if (this.gone) return;
    this.gone = new ToonStoreError('WorkerGone', message);
    for (const { reject } of this.pending.values()) reject(this.gone);
    this.pending.clear();
    this.worker.terminate();
  }

  terminate() {
    this.gone ??= new ToonStoreError('Closed', 'the store is closed');
    this.worker.terminate();
  }
}

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
  constructor(connection, name, info) {
    this.connection = connection;
    this.name = name;
    this.backend = info.backend;
  }

  call(op, args, transfer) {
    return this.connection.request(op, args, transfer);
  }

  async put(key, value) { return this.call('putJson', { key, json: toJson(value) }); }
  putText(key, text) { return this.call('putText', { key, text }); }
  async get(key) { return fromJson(await this.call('getJson', { key })); }
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

  compact() { return this.call('compact', {}); }
  stats() { return this.call('stats', {}); }
  sync() { return this.call('sync', {}); }

  async close() {
    try {
      await this.call('close', {});
    } catch (e) {
      // At the quota the store stays open with its writes: close again once there is room.
      if (e?.code === 'QuotaExceeded') throw e;
      this.connection.terminate();
      throw e;
    }
    this.connection.terminate();
  }
}

/** The origin's StorageManager, or StorageUnavailable. */
function storageManager() {
  const storage = globalThis.navigator?.storage;
  if (!storage) throw new ToonStoreError('StorageUnavailable', 'this page has no StorageManager');
  return storage;
}

/**
 * Opens (or creates) the store `name` in OPFS; `StorageUnavailable` where the browser gives
 * workers no OPFS sync access handles (Safari private browsing, old browsers), unless
 * `options.memory` (always in memory) or `options.fallback: 'memory'` (in memory there).
 * `stats().backend` says which. A store open in another tab fails at once with `Locked`.
 * `options.files` (from `export()`) creates the store from a native store's files. Never
 * asks the user anything: persistence is asked for by `store.persist()` only.
 */
export async function open(name, options = {}) {
  // Imported during server-side rendering, the module does nothing; opening says why not.
  if (typeof Worker === 'undefined') {
    throw new ToonStoreError('StorageUnavailable', 'no Web Workers here (server-side rendering?): open the store in a browser');
  }
  const { files, fallback, ...engineOptions } = options;
  if (fallback !== undefined && fallback !== 'memory') {
    throw new ToonStoreError('InvalidOption', `fallback must be 'memory', not ${JSON.stringify(fallback)}`);
  }
  const connection = new Connection();
  const transfer = files ? Object.values(files).map((bytes) => bytes.buffer) : [];
  try {
    const args = { name, options: engineOptions, fallback, files };
    const info = await connection.request('open', args, transfer);
    return new Store(connection, name, info);
  } catch (e) {
    connection.terminate();
    throw e;
  }
}
