// @ts-check
// A page's read cache (`open(name, {cache: {bytes}})`): documents by key, decoded once and
// deep-frozen (every get of a key returns the same frozen value until the key changes: no
// copy per get), least recently used first out, kept coherent by versions. Every answer carries the store's version
// when it ran and every change event the version of its commit, so a read is kept only when
// no change to its key that it did not see is known: a change event may reach the page
// before or after a read that ran before it.

export class ReadCache {
  /** @param {number} limit bytes of keys and JSON text (two bytes a character) */
  constructor(limit) {
    this.limit = limit;
    this.bytes = 0;
    /** @type {Map<string, {value: any, size: number}>} */
    this.entries = new Map();
    /** The newest change known per key, while reads are on their way (then forgotten: a read
     * sent later runs after every change the page has heard of). */
    this.changed = new Map();
    this.reading = 0;
  }

  /** The entry cached for `key` (`{value}`: the frozen document), or undefined. */
  get(key) {
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** A read of `key` is on its way. */
  reads() {
    this.reading++;
  }

  /** The answer to a read of `key` (its JSON text, and the frozen `value` decoded from it;
   * JSON undefined: no such key), which ran at `version`; `announced`: the leader will
   * announce every later change to this page (else the answer is not kept). */
  answer(key, json, value, version, announced) {
    const known = this.changed.get(key);
    if (--this.reading === 0) this.changed.clear();
    if (!announced || (known !== undefined && known >= version) || json === undefined) return;
    const size = 2 * (key.length + json.length);
    if (size > this.limit) return;
    this.forget(key);
    this.entries.set(key, { value, size });
    this.bytes += size;
    for (const [old, entry] of this.entries) {
      if (this.bytes <= this.limit) break;
      this.entries.delete(old);
      this.bytes -= entry.size;
    }
  }

  /** A read that failed. */
  failed() {
    if (--this.reading === 0) this.changed.clear();
  }

  /** `key` changed in the commit `version` (or is about to: version Infinity until known). */
  change(key, version) {
    this.forget(key);
    if (this.reading > 0) this.changed.set(key, Math.max(this.changed.get(key) ?? -1, version));
  }

  forget(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.bytes -= entry.size;
  }

  /** Another leader: what this one said may not hold there. */
  clear() {
    this.entries.clear();
    this.changed.clear();
    this.bytes = 0;
  }
}

/** `value` with every object and array in it frozen; `value` itself. */
export function deepFreeze(value) {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
