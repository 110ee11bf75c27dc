// A store's files on the Node side of a page, as {name: base64} (what crosses
// page.evaluate intact); test/page.html has the page side (window.filesFrom/filesTo).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The store directory's files, as they move between homes: its OS lock file and its
 * reserve (zeros whose size each home chooses) aside. */
export function readFiles(dir) {
  const files = {};
  for (const name of readdirSync(dir).sort()) {
    if (name !== 'LOCK' && name !== 'RESERVE') {
      files[name] = readFileSync(join(dir, name)).toString('base64');
    }
  }
  return files;
}

/** Writes files into `dir`, creating it. */
export function writeFiles(dir, files) {
  mkdirSync(dir, { recursive: true });
  for (const [name, base64] of Object.entries(files)) {
    writeFileSync(join(dir, name), Buffer.from(base64, 'base64'));
  }
}
