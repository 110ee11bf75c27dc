// The package where there is no browser: imported during server-side rendering (Node, no
// window, no Worker) it does nothing, and `open` says StorageUnavailable. Prints one
// `test result:` line in cargo's format, which .ci/test adds to its total.
//   node www/test/node.mjs
import assert from 'node:assert/strict';

const tests = {
  async 'importing the package touches nothing'() {
    const before = Object.getOwnPropertyNames(globalThis).sort();
    const toonstore = await import('../src/index.js');
    assert.equal(typeof toonstore.open, 'function');
    assert.deepEqual(Object.getOwnPropertyNames(globalThis).sort(), before);
  },

  async 'open without a browser is StorageUnavailable'() {
    const { open, ToonStoreError } = await import('../src/index.js');
    await assert.rejects(open('ssr'), (e) => e instanceof ToonStoreError && e.code === 'StorageUnavailable');
  },
};

let passed = 0;
let failed = 0;
for (const [name, test] of Object.entries(tests)) {
  try {
    await test();
    passed++;
    console.log(`test ${name} ... ok`);
  } catch (e) {
    failed++;
    console.log(`test ${name} ... FAILED\n${e.stack ?? e}`);
  }
}
console.log(`\ntest result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${failed} failed; Node (no browser)`);
process.exit(failed ? 1 : 0);
