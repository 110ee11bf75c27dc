// A TypeScript program using the package as an app would, compiled with `tsc --strict`
// against index.d.ts (tsconfig.json here) and then run in Chromium by www/test/run.mjs: the
// types cannot drift from what the code does without this failing to compile or to run.
import { open, ToonStoreError, type ErrorCode, type Json, type Stats, type Store } from '../../src/index.js';

interface User {
  name: string;
  tags: string[];
}

function isUser(value: Json | undefined): value is Json & User {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof value.name === 'string';
}

/** What the run saw, for the test to compare. */
export async function main(): Promise<Record<string, unknown>> {
  const store: Store = await open('typed', { durability: 'immediate' });
  await store.put('user:1', { name: 'Ada', tags: ['math'] });
  const user = await store.get('user:1');
  const name = isUser(user) ? user.name : 'not a user';
  const text: string | undefined = await store.getText('user:1');
  const row: number = await store.append({ event: 'login' });
  const deleted: boolean = await store.delete('nobody');
  const keys: string[] = [];
  for await (const [key] of store.scan({ prefix: 'user:' })) keys.push(key);
  const texts: string[] = [];
  for await (const [, toon] of store.scan({ text: true })) texts.push(toon);
  await store.batch([{ type: 'put', key: 'b', value: [1, 2] }, { type: 'delete', key: 'b' }]);
  const stats: Stats = await store.stats();
  let code: ErrorCode | undefined;
  try {
    await store.putText('bad', 'a: 1\nb[3]: x,y');
  } catch (e) {
    if (e instanceof ToonStoreError) code = e.code;
  }
  // @ts-expect-error: keys are strings.
  void (() => store.put(1, {}));
  // @ts-expect-error: values are JSON, not functions.
  void (() => store.put('f', () => 1));
  // @ts-expect-error: an unknown export format.
  void (() => store.export({ format: 'csv' }));
  // @ts-expect-error: the only fallback is memory.
  void (() => open('x', { fallback: 'disk' }));
  const { usage, quota } = await store.estimate();
  await store.close();
  return { name, text, row, deleted, keys, texts: texts.length, backend: stats.backend, code, estimate: usage >= 0 && quota > 0 };
}
