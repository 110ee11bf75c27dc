// Runs a WASI (preview 1) module under Node's node:wasi, the second runtime the CLI tests
// and the cross-target test use besides wasmtime.
//   node --no-warnings tests/wasi/node-wasi.mjs [--dir HOST::GUEST]... MODULE.wasm [ARGS...]
// Standard streams are the process's own; exits with the guest's exit code.
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
const wasi = new WASI({
  version: 'preview1',
  args: [basename(module), ...args],
  env: {},
  preopens,
  returnOnExit: true,
});
const compiled = await WebAssembly.compile(await readFile(module));
const instance = await WebAssembly.instantiate(compiled, wasi.getImportObject());
exit(wasi.start(instance));
