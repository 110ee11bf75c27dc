// A small records app on the toonstore package: save objects, list and search them by key
// prefix, see each record's TOON beside its JSON with both sizes, export a prefix as one
// TOON table. Records persist in OPFS across reloads, and every tab of the demo shows every
// tab's changes as they happen (store.watch).
import { open } from '../src/index.js';

const $ = (id) => document.getElementById(id);
const bytes = (text) => new TextEncoder().encode(text).length;
const store = await open('demo');

async function refresh() {
  const stats = await store.stats();
  $('status').textContent = `${stats.keys} records, ${stats.diskBytes} bytes on disk (${stats.backend})`;
  const rows = [];
  for await (const [key, text] of store.scan({ prefix: $('search').value, limit: 200, text: true })) {
    const json = JSON.stringify(await store.get(key), null, 1);
    rows.push(`<tr><td>${escape(key)}</td>
      <td><pre>${escape(json)}</pre><span class="muted">${bytes(JSON.stringify(JSON.parse(json)))} bytes compact</span></td>
      <td><pre>${escape(text)}</pre><span class="muted">${bytes(text)} bytes</span></td></tr>`);
  }
  $('rows').innerHTML = rows.join('');
}

function escape(text) {
  return text.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
}

const showError = (e) => { $('error').textContent = `${e.code ?? 'Error'}: ${e.message}`; };

async function attempt(action) {
  $('error').textContent = '';
  try {
    await action();
    await refresh();
  } catch (e) {
    showError(e);
  }
}

$('add').addEventListener('submit', (event) => {
  event.preventDefault();
  attempt(() => store.put($('key').value, JSON.parse($('json').value)));
});
$('samples').addEventListener('click', () => attempt(() => store.putMany([
  ['user:1', { id: 1, name: 'Ada Lovelace', role: 'engine', since: 2019, active: true }],
  ['user:2', { id: 2, name: 'Linus Torvalds', role: 'io', since: 2020, active: true }],
  ['user:3', { id: 3, name: 'Grace Hopper', role: 'codec', since: 2021, active: false }],
  ['team:storage', { name: 'Storage', tags: ['durable', 'fast', 'portable'] }],
])));
$('search').addEventListener('input', () => attempt(async () => {}));
$('export').addEventListener('click', () => attempt(async () => {
  $('exported').textContent = await store.export({ format: 'toon', prefix: $('search').value });
}));
$('clear').addEventListener('click', () => attempt(async () => {
  const keys = [];
  for await (const [key] of store.scan({ prefix: $('search').value })) keys.push(key);
  await store.batch(keys.map((key) => ({ type: 'delete', key })));
}));
await refresh();

// Another tab's change (or this one's): list again, once per burst of changes.
let queued = false;
for await (const change of store.watch()) {
  if (change && !queued) {
    queued = true;
    setTimeout(() => {
      queued = false;
      refresh().catch(showError);
    }, 20);
  }
}
