//! Seeded generator of values that stress TOON's quoting, number and array-form rules.

use toonstore::toon::{Map, Value};

/// Strings that sit on a quoting rule's edge: delimiters, colons, outer spaces, `-` and `#`
/// prefixes, numbers and literals in disguise, brackets, escapes, control characters, unicode.
const TRICKY: &[&str] = &[
    "",
    " ",
    "a b",
    " lead",
    "trail ",
    "\tlead",
    "trail\t",
    "a,b",
    "a|b",
    "a\tb",
    "a:b",
    "a: b",
    "-",
    "- item",
    "-x",
    "--",
    "#",
    "#tag",
    "a#b",
    "42",
    "-3.14",
    "1e-6",
    "1E+6",
    "05",
    "+1",
    "1e400",
    ".5",
    "1.",
    "0x10",
    "true",
    "false",
    "null",
    "True",
    "NULL",
    "[x]",
    "{y}",
    "[]",
    "[2]: a,b",
    "key: value",
    "a\"b",
    "\"quoted\"",
    "back\\slash",
    "line\nbreak",
    "cr\rx",
    "\u{1}ctl",
    "nul\u{0}",
    "\u{1f}",
    "del\u{7f}",
    "café",
    "你好",
    "🚀 rocket",
    "\u{feff}bom",
    "a\u{a0}b",
    "\u{2028}",
    "x y z",
    "ends with colon:",
    "end-",
    "a-b",
    "a_b.c",
];

/// Characters random strings are built from.
const ALPHABET: &[char] = &[
    'a', 'b', 'z', 'A', '_', '.', '0', '7', ' ', ',', '|', '\t', ':', '-', '#', '"', '\\', '[',
    ']', '{', '}', '\n', 'é', '€', '🚀', 'e', '+',
];

pub struct Generator {
    rng: fastrand::Rng,
    /// Whether integers may pass 2^53 (JavaScript oracles cannot hold them exactly).
    pub wide_integers: bool,
    /// Whether floats stay where every implementation prints the same plain digits
    /// (1e-6 <= |x| < 2^53: no exponent, and no integral float beyond exact integers).
    pub plain_floats: bool,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator { rng: fastrand::Rng::with_seed(seed), wide_integers: false, plain_floats: false }
    }

    pub fn document(&mut self) -> Value {
        match self.rng.u8(0..10) {
            0 => self.primitive(),
            1..=2 => self.array(3),
            _ => self.object(3),
        }
    }

    pub fn value(&mut self, depth: u32) -> Value {
        if depth == 0 {
            return self.primitive();
        }
        match self.rng.u8(0..10) {
            0..=4 => self.primitive(),
            5..=6 => self.array(depth - 1),
            _ => self.object(depth - 1),
        }
    }

    pub fn primitive(&mut self) -> Value {
        match self.rng.u8(0..10) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.bool()),
            2..=4 => self.number(),
            _ => Value::from(self.string()),
        }
    }

    pub fn number(&mut self) -> Value {
        let value = self.any_number();
        match value.as_number() {
            Some(n)
                if self.plain_floats
                    && !n.is_integer()
                    && !(1e-6..9e15).contains(&n.as_f64().abs()) =>
            {
                Value::from(n.as_f64().abs().clamp(1e-6, 8e15).copysign(n.as_f64()))
            }
            _ => value,
        }
    }

    fn any_number(&mut self) -> Value {
        let safe = 9_007_199_254_740_991_i64;
        match self.rng.u8(0..12) {
            0 => Value::from(-0.0),
            1 => Value::from([1e21, 1e-7, 1.5e-7, 1e20, 1e-6, 123456.789e10][self.rng.usize(..6)]),
            2 => Value::from([safe, -safe, 0, 1, -1][self.rng.usize(..5)]),
            3 if self.wide_integers => Value::from(self.rng.i64(..)),
            4 => Value::from(0.1 + 0.2),
            5 => {
                // Any finite double, from its bits.
                let f = f64::from_bits(self.rng.u64(..));
                Value::from(if f.is_finite() { f } else { 2.5 })
            }
            6 => Value::from(self.rng.f64() * 10f64.powi(self.rng.i32(-12..25))),
            7 => Value::from(-(self.rng.f64() * 1000.0)),
            _ => Value::from(self.rng.i64(-1_000_000..1_000_000)),
        }
    }

    pub fn string(&mut self) -> String {
        match self.rng.u8(0..10) {
            0..=4 => TRICKY[self.rng.usize(..TRICKY.len())].to_owned(),
            5..=6 => format!("{}{}", self.word(), TRICKY[self.rng.usize(..TRICKY.len())]),
            7 => self.word(),
            _ => (0..self.rng.usize(1..8))
                .map(|_| ALPHABET[self.rng.usize(..ALPHABET.len())])
                .collect(),
        }
    }

    fn word(&mut self) -> String {
        const WORDS: &[&str] = &["alpha", "beta", "Gamma", "delta_4", "x", "node.js", "ok"];
        WORDS[self.rng.usize(..WORDS.len())].to_owned()
    }

    /// A key; never integer-like (`"10"`), since JavaScript objects list those first.
    pub fn key(&mut self) -> String {
        loop {
            let key = match self.rng.u8(0..10) {
                0..=5 => self.word(),
                6 => "__proto__".to_owned(),
                _ => self.string(),
            };
            let integer_like = !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_digit())
                && (key == "0" || !key.starts_with('0'));
            if !integer_like {
                return key;
            }
        }
    }

    fn keys(&mut self, count: usize) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        while keys.len() < count {
            let key = self.key();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    pub fn object(&mut self, depth: u32) -> Value {
        match self.rng.u8(0..8) {
            0 if depth > 0 => self.keyed_table(depth),
            1 => Value::Object(Map::default()),
            _ => {
                let count = self.rng.usize(1..6);
                let keys = self.keys(count);
                keys.into_iter().map(|k| (k, self.value(depth))).collect()
            }
        }
    }

    pub fn array(&mut self, depth: u32) -> Value {
        // Mostly short, sometimes long enough for multi-digit lengths.
        let len =
            if self.rng.u8(0..8) == 0 { self.rng.usize(10..120) } else { self.rng.usize(0..5) };
        match self.rng.u8(0..8) {
            0 => Value::Array(Vec::new()),
            1..=2 => Value::Array((0..len).map(|_| self.primitive()).collect()),
            3 => Value::Array(
                (0..len)
                    .map(|_| {
                        Value::Array((0..self.rng.usize(0..4)).map(|_| self.primitive()).collect())
                    })
                    .collect(),
            ),
            4..=5 => Value::Array(self.uniform_rows(len.max(1), depth)),
            _ => Value::Array((0..len).map(|_| self.value(depth)).collect()),
        }
    }

    /// Objects sharing keys (sometimes in another order, sometimes one odd row out) whose
    /// columns are primitives or uniform nested objects.
    fn uniform_rows(&mut self, count: usize, depth: u32) -> Vec<Value> {
        let width = self.rng.usize(1..5);
        let keys = self.keys(width);
        let nested: Vec<Option<Vec<String>>> = keys
            .iter()
            .map(|_| {
                let group_width = self.rng.usize(1..3);
                (depth > 0 && self.rng.u8(0..4) == 0).then(|| self.keys(group_width))
            })
            .collect();
        let mut rows: Vec<Value> = (0..count)
            .map(|_| {
                let mut order: Vec<usize> = (0..width).collect();
                if self.rng.u8(0..6) == 0 {
                    self.rng.shuffle(&mut order);
                }
                order
                    .into_iter()
                    .map(|i| {
                        let cell = match &nested[i] {
                            Some(inner) => {
                                inner.iter().map(|k| (k.clone(), self.primitive())).collect()
                            }
                            None => self.primitive(),
                        };
                        (keys[i].clone(), cell)
                    })
                    .collect()
            })
            .collect();
        if self.rng.u8(0..6) == 0 {
            let odd = self.rng.usize(..rows.len());
            rows[odd] = self.value(depth);
        }
        rows
    }

    /// An object whose values are uniform objects: a keyed table when two or more.
    fn keyed_table(&mut self, depth: u32) -> Value {
        let count = self.rng.usize(1..5);
        let keys = self.keys(count);
        let rows = self.uniform_rows(count, depth);
        keys.into_iter().zip(rows).collect()
    }
}
