// The 1 KB TOON documents of the benchmarks: the generator of engine/examples/workload.rs
// (SplitMix64, same words), so the browser stores what the native and WASI runs store.

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'storage', 'engine', 'token', 'prompt',
  'record', 'index', 'cache', 'segment'];
const MASK = (1n << 64n) - 1n;

class Rng {
  constructor(seed) { this.state = BigInt(seed); }
  next() {
    this.state = (this.state + 0x9E3779B97F4A7C15n) & MASK;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & MASK;
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & MASK;
    return z ^ (z >> 31n);
  }
  below(n) { return Number(this.next() % BigInt(n)); }
}

const pad = (n, width) => String(n).padStart(width, '0');

/** Document `i` as canonical TOON text (about 1 KB). */
export function documentText(i) {
  const rng = new Rng(i);
  const word = () => WORDS[rng.below(WORDS.length)];
  const bio = Array.from({ length: 40 }, word).join(' ');
  const department = word();
  const whole = rng.below(1000);
  const fraction = 1 + rng.below(99) * 10;
  const tags = [word(), word(), word(), word()];
  let text = `id: ${i}\nname: User ${i}\nemail: user${i}@example.com\ndepartment: ${department}\n` +
    `score: ${whole}.${pad(fraction, 3)}\ntags[4]: ${tags.join(',')}\nbio: ${bio}\n` +
    'events[8]{at,kind,count,ok}:';
  for (let n = 0; n < 8; n++) {
    const hour = rng.below(24);
    const minute = rng.below(60);
    const kind = word();
    const count = rng.below(10000);
    const ok = rng.below(2) === 1;
    text += `\n  "2026-11-${pad(n + 1, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:00Z",${kind},${count},${ok}`;
  }
  return text;
}

/** Document `i` as a plain object (what the main-thread API and IndexedDB store). */
export function documentObject(i) {
  const rng = new Rng(i);
  const word = () => WORDS[rng.below(WORDS.length)];
  const bio = Array.from({ length: 40 }, word).join(' ');
  const department = word();
  const score = Number(`${rng.below(1000)}.${pad(1 + rng.below(99) * 10, 3)}`);
  const tags = [word(), word(), word(), word()];
  const events = Array.from({ length: 8 }, (_, n) => {
    const at = `2026-11-${pad(n + 1, 2)}T${pad(rng.below(24), 2)}:${pad(rng.below(60), 2)}:00Z`;
    return { at, kind: word(), count: rng.below(10000), ok: rng.below(2) === 1 };
  });
  return { id: i, name: `User ${i}`, email: `user${i}@example.com`, department, score, tags, bio, events };
}

export const key = (i) => `key${pad(i, 8)}`;

/** `n` indices in a fixed random order. */
export function randomOrder(n, seed = 7) {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.below(n));
}
