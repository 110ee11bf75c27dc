// The engine's storage conformance suite on OPFS, in a worker of its own: a test's worker,
// kept out of the package's (which serves stores only). Answers one message with the number
// of checks passed, or an error.
import init, { storageConformance } from '../pkg/toonstore_wasm.js';
import { newSlots } from '../src/worker-core.js';

/** The suite's 14 checks, on bare OPFS and behind the block cache, each on fresh slot files
 * in a directory of its own. */
const CHECKS = 2 * 14;

self.onmessage = async () => {
  await init();
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(`conformance-${Date.now()}`, { create: true });
  const sets = [];
  try {
    for (let check = 0; check < CHECKS; check++) sets.push(await newSlots(dir, 8));
    self.postMessage({ passed: storageConformance(sets) });
  } catch (e) {
    self.postMessage({ error: String(e?.message ?? e) });
  } finally {
    for (const set of sets) for (const [, handle] of set) handle.close();
    await root.removeEntry(dir.name, { recursive: true });
  }
};
