// @ts-check

/** An error from the store, with a stable `code` (see index.d.ts). */
export class ToonStoreError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {object} [details]
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'ToonStoreError';
    this.code = code;
    Object.assign(this, details);
  }
}
