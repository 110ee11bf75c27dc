// Test oracle: runs the reference TOON implementation (@toon-format/toon) on a batch of
// requests and prints its answers, so the Rust differential tests can compare.
//
// Usage: node toon-oracle.mjs REQUEST.json
//   request:  {"encode": [{"value", "delimiter", "indent"}], "decode": [{"text", "strict", "indent"}]}
//   response: {"encode": [{"text"} | {"error"}], "decode": [{"value"} | {"error"}]}
import { readFileSync } from 'node:fs';
import { decode, encode } from '@toon-format/toon';

const request = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function attempt(run) {
  try {
    return run();
  } catch (error) {
    return { error: String(error.message) };
  }
}

const response = {
  encode: request.encode.map(({ value, delimiter, indent }) =>
    attempt(() => ({ text: encode(value, { delimiter, indentSize: indent }) }))),
  decode: request.decode.map(({ text, strict, indent }) =>
    attempt(() => ({ value: decode(text, { strict, indentSize: indent }) }))),
};
process.stdout.write(JSON.stringify(response));
