// A static file server for the tests, the benchmark runner and the demo, on 127.0.0.1.
//   node www/test/server.mjs [PORT]   serves www/ and prints the demo's address
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
};

/** Serves `root` on 127.0.0.1:`port` (0: any free port); resolves once listening.
 * `server.requests` counts requests by path (nothing is cached: every load asks). */
export function serve(root, port = 0) {
  const requests = new Map();
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (path.includes('..')) {
      response.writeHead(403).end();
      return;
    }
    const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
    try {
      const body = await readFile(file);
      response.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(Object.assign(server, { requests }))));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = new URL('..', import.meta.url).pathname;
  const server = await serve(root, Number(process.argv[2] ?? 8080));
  console.log(`ToonStore demo: http://127.0.0.1:${server.address().port}/demo/`);
}
