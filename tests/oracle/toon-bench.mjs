// Times the reference TOON implementation (@toon-format/toon) on the codec benchmark's
// documents, so BENCHMARKS.md can show it beside the Rust libraries from the same run.
//
// Usage: node toon-bench.mjs DATA_DIR NAME...   (reads DATA_DIR/NAME.toon and NAME.json)
// Prints {"NAME": {"decode/reference_js": {"median_ns", "bytes"}, "encode/reference_js": ...}},
// the shape benches/src/report.rs reads.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode } from '@toon-format/toon';

/** Median time of one call, in ns, over batches filling about two seconds. */
function median(run) {
  let batch = 1;
  while (true) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) run();
    if (Number(process.hrtime.bigint() - start) > 50e6) break;
    batch *= 2;
  }
  const samples = [];
  const deadline = Date.now() + 2000;
  while (samples.length < 10 || Date.now() < deadline) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) run();
    samples.push(Number(process.hrtime.bigint() - start) / batch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const [dir, ...names] = process.argv.slice(2);
const results = {};
for (const name of names) {
  const toon = readFileSync(join(dir, `${name}.toon`), 'utf8');
  const value = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  if (encode(value) !== toon) throw new Error(`${name}: the reference writes other text`);
  const bytes = Buffer.byteLength(toon);
  results[name] = {
    'decode/reference_js': { median_ns: median(() => decode(toon)), bytes },
    'encode/reference_js': { median_ns: median(() => encode(value)), bytes },
  };
}
process.stdout.write(JSON.stringify(results));
