// Hand-written types of the `toonstore` package (the wasm-bindgen glue stays internal).

/** A JSON-like value: what a document holds. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Stable error codes. */
export type ErrorCode =
  | 'Locked' // another tab holds the store alone (`multiTab: 'exclusive'`), or no tab that
  //           leads it answered within `timeout`
  | 'LeaderLost' // the tab that led the store took this call and went (closed, crashed)
  //               without answering: it may or may not have taken effect (`call` is its id)
  | 'Timeout' // no answer from the leading tab within `timeout` (frozen, hidden): `taken`
  //            false means the call never ran and never will; true, that it may have
  | 'Corrupted' // stored bytes fail their checksum or make no sense (`recovery: 'salvage'`
  //              opens anyway, moving damaged bytes aside)
  | 'InvalidDocument' // not valid TOON (see `line`, `column`), or not JSON-like
  | 'TooLarge' // a key or document passes its limit
  | 'QuotaExceeded' // the browser's storage quota or the store's size limit is reached; the
  //                  store stays usable: delete and compact to make room
  | 'InvalidOption' // an option no store can work with (negative, NaN, zero, out of range)
  | 'Closed' // the store was closed
  | 'WorkerGone' // the worker crashed; reopen the store
  | 'Poisoned' // an earlier write failed; reopen the store
  | 'SyncFailed' // an `immediate` write reached storage but its sync failed: it may or may
  //               not be there after a reopen
  | 'ReadOnly' // the store was opened with `readOnly`
  | 'InvalidKey' // an empty key
  | 'InvalidArgument' // a call the API does not accept
  | 'StorageUnavailable' // no OPFS sync access handles (and no memory fallback asked for), no
  //                        Web Workers (server-side rendering), or no StorageManager
  | 'UnsupportedVersion' // files of a newer format version
  | 'Io'; // anything else the storage reported

export class ToonStoreError extends Error {
  readonly name: 'ToonStoreError';
  readonly code: ErrorCode;
  /** For `InvalidDocument` from TOON text: where the text is wrong (1-based). */
  readonly line?: number;
  readonly column?: number;
  /** For `QuotaExceeded` from the engine: the bytes the store would need, and its limit (or,
   * when the browser's quota refused, its size then). */
  readonly size?: number;
  readonly limit?: number;
  /** For `LeaderLost`: the id of the call. */
  readonly call?: number;
  /** For `Timeout`: whether the leading tab took the call (it may then have run). */
  readonly taken?: boolean;
}

export interface OpenOptions {
  /** `eventual` (default): durable at `sync()`/`close()`; `immediate`: when the call returns. */
  durability?: 'eventual' | 'immediate';
  /** Memory for decoded documents (default 32 MiB). */
  cacheBytes?: number;
  /** Memory for 64 KB blocks of the store's OPFS files, kept after reads and writes so that
   * most reads need no OPFS call (default 32 MiB; below 64 KB, 0 included: none). */
  readCacheBytes?: number;
  /** Largest document in bytes of TOON (default 1 MiB). */
  maxValueBytes?: number;
  /** Largest store in bytes (default 1 GiB). */
  maxStoreBytes?: number;
  /** Size at which a log segment is sealed (512 bytes to 4 GiB; default 64 MiB). */
  segmentBytes?: number;
  /** `strict` (default): damage that is not a torn write refuses the open (`Corrupted`);
   * `salvage`: opens, moving damaged bytes aside (`stats().salvagedRecords` says how many
   * records were dropped). */
  recovery?: 'strict' | 'salvage';
  /** Space kept in a `RESERVE` file and given up when deletes or compaction meet the quota
   * (default 2 MiB; 0: none). */
  reserveBytes?: number;
  /** Open for reading only: nothing is written; writes fail with `ReadOnly`. */
  readOnly?: boolean;
  /** Keep the store in memory even where OPFS exists. */
  memory?: boolean;
  /** `memory`: where OPFS sync access handles are missing, keep the store in memory instead
   * of failing with `StorageUnavailable`. */
  fallback?: 'memory';
  /** Create the store from these files (from `export()`, or a native store's directory);
   * implies `multiTab: 'exclusive'`. */
  files?: Record<string, Uint8Array>;
  /** `shared` (default): every tab of the origin may open the store; one tab's worker leads
   * and the others send it their calls. `exclusive`: this tab alone, `Locked` at once if
   * another has it. Engine options (sizes, `recovery`, the default durability) are those of
   * the tab that opens the files; a follower's are checked (`InvalidOption`), its
   * `readOnly` holds for its own calls and its `durability: 'immediate'` has its writes
   * synced. */
  multiTab?: 'shared' | 'exclusive';
  /** How long `open` waits for the store, and each call for another tab's answer, in ms
   * (default 30000): then `Locked`, or `Timeout`. */
  timeout?: number;
  /** Keep documents read by `get` in this page, up to `bytes` (two bytes a character of key
   * and JSON): a get of a cached key settles without a message. Every tab's writes keep it
   * current. With a cache, `get` gives frozen documents, one object per key until the key
   * changes (`structuredClone` one to change it). */
  cache?: { bytes: number };
}

/** A committed change, from any tab: `version` only grows (a batch's keys share one). */
export type ChangeEvent =
  | { type: 'put' | 'delete'; key: string; version: number }
  /** Changes may have gone unannounced: the tab that led the store went without a word, or
   * the next one made changes before it heard that this tab listens (leaders announce
   * changes only while some tab listens). Re-read what matters. */
  | { type: 'missed'; version: number };

export interface WatchOptions {
  /** Only keys that start with it. */
  prefix?: string;
  /** Ends the iteration when aborted. */
  signal?: AbortSignal;
}

export interface Stats {
  /** `opfs`, or `memory` (asked for with `memory`, or `fallback` where OPFS is missing). */
  backend: 'opfs' | 'memory';
  keys: number;
  rows: number;
  diskBytes: number;
  liveBytes: number;
  garbageBytes: number;
  segments: number;
  cacheHits: number;
  cacheMisses: number;
  /** Bytes of a torn tail the open cut off; records a salvaging open dropped. */
  recoveredTailBytes: number;
  salvagedRecords: number;
}

export interface ScanOptions {
  prefix?: string;
  /** First key (included). */
  from?: string;
  /** Last key (excluded). */
  to?: string;
  limit?: number;
  /** Give TOON text instead of values. */
  text?: boolean;
}

export type BatchOp =
  | { type: 'put'; key: string; value: Json }
  | { type: 'putText'; key: string; text: string }
  | { type: 'delete'; key: string };

/**
 * An open store. Objects go in and come out as plain values, by JSON.stringify's rules
 * (undefined members and functions are left out, NaN becomes null, toJSON is called;
 * BigInts and `undefined` itself are refused with `InvalidDocument`). JavaScript lists
 * integer-like keys ("2", "10") first, so their order in a document does not survive.
 * A key `__proto__` comes back as an own property.
 */
export interface Store {
  readonly name: string;
  readonly backend: 'opfs' | 'memory';
  put(key: string, value: Json): Promise<void>;
  putText(key: string, toon: string): Promise<void>;
  get(key: string): Promise<Json | undefined>;
  getText(key: string): Promise<string | undefined>;
  delete(key: string): Promise<boolean>;
  /** Appends a row; its id. */
  append(value: Json): Promise<number>;
  appendText(toon: string): Promise<number>;
  getRow(id: number): Promise<Json | undefined>;
  scan(options?: ScanOptions & { text?: false }): AsyncIterableIterator<[string, Json]>;
  scan(options: ScanOptions & { text: true }): AsyncIterableIterator<[string, string]>;
  /** All or nothing. */
  batch(ops: BatchOp[]): Promise<void>;
  putMany(entries: Array<[string, Json]> | Record<string, Json>): Promise<void>;
  getMany(keys: string[]): Promise<Array<Json | undefined>>;
  /** The store's files (byte-identical to a native store's directory). */
  export(options?: { format?: 'files' }): Promise<Record<string, Uint8Array>>;
  /** Documents as one TOON document keyed by key; uniform records become one table. */
  export(options: { format: 'toon'; prefix?: string }): Promise<string>;
  /** Puts records keyed by their field `keyField` (default `id`), in one batch. */
  import(records: Array<Record<string, Json>>, options?: { keyField?: string }): Promise<void>;
  /** Every committed change in any tab of the origin, in commit order; keys only, never
   * values. Appends (rows) are not keyed changes and are not reported. */
  watch(options?: WatchOptions): AsyncIterableIterator<ChangeEvent>;
  /** Rewrites live documents; the bytes reclaimed. */
  compact(): Promise<number>;
  stats(): Promise<Stats>;
  sync(): Promise<void>;
  /** Asks the browser to keep this origin's data through storage pressure; whether it will
   * (Firefox may ask the user: call it from a user's action). */
  persist(): Promise<boolean>;
  /** The browser's estimate for this origin, in bytes. */
  estimate(): Promise<{ usage: number; quota: number }>;
  /** Makes this tab's writes durable and lets the store go here; a leading tab hands it to
   * the next. At the quota it may fail: the store then stays open. */
  close(): Promise<void>;
}

/** Opens (or creates) the store `name`, shared by every tab of the origin (see
 * `multiTab`): waits up to `timeout` for it; `StorageUnavailable` without OPFS sync access
 * handles unless `memory` or `fallback` says otherwise. Never asks the user anything (see
 * `Store.persist`). */
export function open(name: string, options?: OpenOptions): Promise<Store>;
