import { open } from 'toonstore';

const out = document.getElementById('out');
try {
  const store = await open('vite-app');
  await store.put('k', { bundled: true, n: 1 });
  const value = await store.get('k');
  const { backend } = await store.stats();
  await store.close();
  out.textContent = `ok ${JSON.stringify(value)} ${backend}`;
} catch (e) {
  out.textContent = `failed ${e.code}: ${e.message}`;
}
