// A CPU profile of the engine inside a dedicated worker in headless Chromium (the profile
// benches/PROFILES.md quotes): runs profile-worker.js once to warm up, then again under V8's
// sampling profiler, reached through the page's CDP session (Target.setAutoAttach without
// flattening, then Profiler.* by Target.sendMessageToTarget). Prints each round's times and
// the functions with the most self time; writes target/bench-data/worker.cpuprofile (opens
// in DevTools).
//   node www/bench/profile.mjs [N] [ROUNDS]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../test/chromium.mjs';
import { serve } from '../test/server.mjs';

const www = dirname(dirname(fileURLToPath(import.meta.url)));
const [n, rounds] = [Number(process.argv[2] ?? 20000), Number(process.argv[3] ?? 3)];

const server = await serve(www);
const profileDir = mkdtempSync(join(tmpdir(), 'toonstore-profile-'));
const context = await launch(profileDir);
try {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const pending = new Map();
  let nextId = 1;
  let workerSession;
  const attached = new Promise((resolve) => {
    cdp.on('Target.attachedToTarget', ({ sessionId, targetInfo }) => {
      if (targetInfo.type === 'worker') {
        workerSession = sessionId;
        resolve();
      }
    });
  });
  cdp.on('Target.receivedMessageFromTarget', ({ message }) => {
    const { id, result, error } = JSON.parse(message);
    pending.get(id)?.(error ? Promise.reject(new Error(error.message)) : result);
    pending.delete(id);
  });
  const inWorker = (method, params = {}) => new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    cdp.send('Target.sendMessageToTarget', { sessionId: workerSession, message: JSON.stringify({ id, method, params }) });
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  await page.goto(`http://127.0.0.1:${server.address().port}/bench/profile.html`);
  await attached;
  const run = async () => {
    const answer = await page.evaluate((message) => window.runWorker(message), { n, rounds });
    if (answer.error) throw new Error(answer.error);
    return answer.perRound.map(({ putUs, getUs }) => `put ${putUs.toFixed(2)} us, get ${getUs.toFixed(2)} us`);
  };
  console.log('warm-up:', (await run()).join('; '));
  await inWorker('Profiler.enable');
  await inWorker('Profiler.setSamplingInterval', { interval: 100 });
  await inWorker('Profiler.start');
  console.log('profiled:', (await run()).join('; '));
  const { profile } = await inWorker('Profiler.stop');
  const out = join(dirname(www), 'target', 'bench-data');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'worker.cpuprofile'), JSON.stringify(profile));

  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  for (const id of profile.samples) {
    const { functionName, url } = nodes.get(id).callFrame;
    const name = `${functionName || '(anonymous)'} ${url.split('/').pop()}`.replace(/::h[0-9a-f]{16}/, '');
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  const total = profile.samples.length;
  for (const [name, count] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`);
  }
} finally {
  await context.close();
  server.close();
  rmSync(profileDir, { recursive: true, force: true });
}
