// Runs a WASI (preview 1) module under Node's node:wasi, the second runtime the CLI tests
// and the cross-target test use besides wasmtime.
//   node --no-warnings tests/wasi/node-wasi.mjs [--dir HOST::GUEST]... MODULE.wasm [ARGS...]
// Standard streams are the process's own (reopened blocking); exits with the guest's exit
// code.
import { openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { argv, env, exit } from 'node:process';
import { WASI } from 'node:wasi';

const args = argv.slice(2);
const preopens = {};
while (args[0] === '--dir') {
  const spec = args[1];
  const [host, guest = host] = spec.split('::');
  preopens[guest] = host;
  args.splice(0, 2);
}
const module = args.shift();
if (!module) {
  console.error('usage: node-wasi.mjs [--dir HOST::GUEST]... MODULE.wasm [ARGS...]');
  exit(2);
}
// The guest gets its own blocking descriptions of the standard streams: Node may have made
// the inherited pipes non-blocking, and a guest writing a full pipe would see EAGAIN.
const stdio = {
  stdin: openSync('/dev/stdin', 'r'),
  stdout: openSync('/dev/stdout', 'a'),
  stderr: openSync('/dev/stderr', 'a'),
};
const wasi = new WASI({
  version: 'preview1',
  args: [basename(module), ...args],
  env: {},
  preopens,
  returnOnExit: true,
  ...stdio,
});
const compiled = await WebAssembly.compile(await readFile(module));
const instance = await WebAssembly.instantiate(compiled, wasi.getImportObject());
exit(wasi.start(instance));
