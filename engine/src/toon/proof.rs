//! A fast proof of canonical form for the shapes stores hold most: objects of `key: value`
//! members, nested objects, inline primitive arrays and tables of primitive rows.
//!
//! Putting a document proves its text canonical (see [`super::is_canonical`]); on 1 KB
//! documents the general validating descent spent more time on its set-up (a line vector,
//! key sets, header structs, per-line dispatch) than on the bytes. This pass reads each line
//! once, allocates one small key stack, and checks tokens with the same functions the
//! encoder and the general check use.
//!
//! It only ever says yes for text the general check would prove canonical (and so valid):
//! anything outside its shapes, and anything it doubts (quoted keys, list items, keyed
//! tables, escapes it does not know, blank lines, comments, odd indentation, an object of
//! objects), makes it give up, and the general check decides. The differential tests and
//! the `toon` fuzz target hold the two to that.

use super::decode::{Kind, canonical_token, canonically_quoted};
use super::encode::{is_bare_key, is_safe_unquoted};
use super::scan;

/// Whether `text` (its one trailing newline already removed) is proven canonical under the
/// default options (strict, indent 2). `false` proves nothing.
pub(crate) fn proves_canonical(text: &str) -> bool {
    let mut proof = Proof { text, next: 0, peeked: None, keys: Vec::new() };
    proof.document().is_some()
}

/// `None`: not proven here (the general check decides).
type Step<T = ()> = Option<T>;

/// Objects with more members than this are left to the general check (its key set hashes).
const MAX_MEMBERS: usize = 32;

#[derive(Clone, Copy)]
struct Line<'a> {
    depth: usize,
    /// After the indentation.
    content: &'a str,
}

struct Proof<'a> {
    text: &'a str,
    /// Start of the next unread line; past the end when every line is read.
    next: usize,
    peeked: Option<Line<'a>>,
    /// Keys of the objects being read, innermost last (sibling keys must differ).
    keys: Vec<&'a str>,
}

impl<'a> Proof<'a> {
    fn document(&mut self) -> Step {
        // The empty document and a root primitive or array are the general check's.
        let first = self.peek()??;
        if first.depth != 0 {
            return None;
        }
        self.object(0)?;
        Some(())
    }

    /// The next line, not consumed (`Some(None)` at the end). Blank lines, odd indentation,
    /// trailing whitespace or carriage returns and comments give up.
    fn peek(&mut self) -> Step<Option<Line<'a>>> {
        if let Some(line) = self.peeked {
            return Some(Some(line));
        }
        let bytes = self.text.as_bytes();
        if self.next > bytes.len() {
            return Some(None);
        }
        let start = self.next;
        let end = find_byte(bytes, start, b'\n');
        self.next = end + 1;
        let spaces = leading_spaces(&bytes[start..end]);
        let content = &self.text[start + spaces..end];
        let (&first, &last) = (content.as_bytes().first()?, content.as_bytes().last()?);
        if !spaces.is_multiple_of(2) || matches!(last, b' ' | b'\t' | b'\r') || first == b'#' {
            return None;
        }
        let line = Line { depth: spaces / 2, content };
        self.peeked = Some(line);
        Some(Some(line))
    }

    fn consume(&mut self) {
        self.peeked = None;
    }

    /// The members of an object whose lines are at `depth` (the next line is its first).
    fn object(&mut self, depth: usize) -> Step<Kind> {
        let keys_start = self.keys.len();
        let mut all_objects = true;
        while let Some(line) = self.peek()? {
            if line.depth < depth {
                break;
            }
            if line.depth != depth {
                return None;
            }
            self.consume();
            let (key, kind) = self.member(line, depth)?;
            let siblings = &self.keys[keys_start..];
            if siblings.len() == MAX_MEMBERS || siblings.contains(&key) {
                return None;
            }
            self.keys.push(key);
            all_objects &= kind == Kind::Object;
        }
        let members = self.keys.len() - keys_start;
        self.keys.truncate(keys_start);
        // Two or more non-empty objects might have been a keyed table: only values tell.
        if members >= 2 && all_objects {
            return None;
        }
        Some(if members == 0 { Kind::EmptyObject } else { Kind::Object })
    }

    /// `key: value`, `key:` and a nested object (or none: an empty object), or an array.
    fn member(&mut self, line: Line<'a>, depth: usize) -> Step<(&'a str, Kind)> {
        let content = line.content;
        let stop = memchr::memchr2(b':', b'[', content.as_bytes())?;
        let key = &content[..stop];
        if !is_bare_key(key) {
            return None;
        }
        if content.as_bytes()[stop] == b'[' {
            return Some((key, self.array(&content[stop..], depth)?));
        }
        let after = &content[stop + 1..];
        if after.is_empty() {
            let kind = match self.peek()? {
                Some(next) if next.depth == depth + 1 => self.object(depth + 1)?,
                Some(next) if next.depth > depth => return None,
                _ => Kind::EmptyObject,
            };
            return Some((key, kind));
        }
        primitive(after.strip_prefix(' ')?)?;
        Some((key, Kind::Primitive))
    }

    /// `[N]: a,b,c` (N primitives inline) or `[N]{f,g}:` and N rows of primitives below.
    /// List items, keyed tables, other delimiters and empty arrays give up.
    fn array(&mut self, bracketed: &'a str, depth: usize) -> Step<Kind> {
        let close = memchr::memchr(b']', bracketed.as_bytes())?;
        let length = canonical_length(&bracketed[1..close])?;
        let after = &bracketed[close + 1..];
        if let Some(inline) = after.strip_prefix(": ") {
            return (cells(inline)? == length).then_some(Kind::Array);
        }
        let fields = after.strip_prefix('{')?.strip_suffix("}:")?;
        let width = field_count(fields)?;
        for _ in 0..length {
            let row = self.peek()??;
            if row.depth != depth + 1 || cells(row.content)? != width {
                return None;
            }
            self.consume();
        }
        // A further line inside the table: more rows than declared, or something else.
        match self.peek()? {
            Some(next) if next.depth > depth => None,
            _ => Some(Kind::Array),
        }
    }
}

/// A declared length as the encoder writes it: digits, no leading zero, at least 1.
fn canonical_length(digits: &str) -> Step<usize> {
    let bytes = digits.as_bytes();
    if bytes.is_empty() || bytes.len() > 9 || bytes[0] == b'0' {
        return None;
    }
    bytes.iter().all(u8::is_ascii_digit).then(|| digits.parse().ok())?
}

/// Names of a table's `{a,b}` field list: bare and distinct. Returns how many.
fn field_count(fields: &str) -> Step<usize> {
    let mut names = [""; MAX_MEMBERS];
    let mut count = 0;
    for name in fields.split(',') {
        if count == MAX_MEMBERS || !is_bare_key(name) || names[..count].contains(&name) {
            return None;
        }
        names[count] = name;
        count += 1;
    }
    Some(count)
}

/// Checks every `,`-separated cell of `line` is a canonical primitive; returns how many.
fn cells(line: &str) -> Step<usize> {
    let bytes = line.as_bytes();
    let mut count = 0;
    let mut start = 0;
    loop {
        let end = if bytes.get(start) == Some(&b'"') {
            quoted_from(line, start)?
        } else {
            let end = find_byte(bytes, start, b',');
            canonical_token(&line[start..end]).then_some(())?;
            end
        };
        count += 1;
        match bytes.get(end) {
            None => return Some(count),
            Some(b',') => start = end + 1,
            Some(_) => return None,
        }
    }
}

/// The value of a `key: value` line: one primitive (commas included).
fn primitive(value: &str) -> Step {
    match value.starts_with('"') {
        true => (quoted_from(value, 0)? == value.len()).then_some(()),
        false => canonical_token(value).then_some(()),
    }
}

/// Checks the quoted string opening at `open` is canonical; returns the index past its
/// closing quote. Bodies without escapes (most) take one word-at-a-time scan.
fn quoted_from(text: &str, open: usize) -> Step<usize> {
    let stop = plain_string_end(text.as_bytes(), open + 1)?;
    if text.as_bytes()[stop] != b'"' {
        let close = scan::find_closing_quote(text, open)?;
        canonically_quoted(&text[open + 1..close]).ok()?.then_some(())?;
        return Some(close + 1);
    }
    // No escape and no control character: `canonically_quoted` comes down to this, without
    // scanning the body again.
    (!is_safe_unquoted(&text[open + 1..stop], b',')).then_some(stop + 1)
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// `byte` in each of a word's eight bytes.
fn splat(byte: u8) -> u64 {
    ONES * u64::from(byte)
}

/// Bytes of `x` below `n` (n <= 128) flagged in their high bit. Only the lowest flag is
/// exact (a borrow can flag bytes above it), which is all [`first_byte`] needs.
fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(splat(n)) & !x & HIGHS
}

/// Index of the first byte at or after `i` that `is` picks, eight bytes at a time (no SIMD,
/// so wasm gains as much as native; spans here are short, where this beats memchr's
/// set-up). `flags` marks a word's picked bytes, loaded little-endian: its lowest set bit
/// must lie in the first picked byte. The tail is checked a byte at a time with `is`.
#[inline(always)]
fn first_byte(
    bytes: &[u8],
    mut i: usize,
    flags: impl Fn(u64) -> u64,
    is: impl Fn(u8) -> bool,
) -> Option<usize> {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let found = flags(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..].iter().position(|&b| is(b)).map(|p| i + p)
}

/// How many spaces `line` starts with.
fn leading_spaces(line: &[u8]) -> usize {
    first_byte(line, 0, |x| x ^ splat(b' '), |b| b != b' ').unwrap_or(line.len())
}

/// Index of the first `byte` at or after `i`, or the length.
fn find_byte(bytes: &[u8], i: usize, byte: u8) -> usize {
    first_byte(bytes, i, |x| below(x ^ splat(byte), 1), |b| b == byte).unwrap_or(bytes.len())
}

/// Index of the first `"`, `\` or control character at or after `i`.
fn plain_string_end(bytes: &[u8], i: usize) -> Step<usize> {
    let flags = |x| below(x ^ splat(b'"'), 1) | below(x ^ splat(b'\\'), 1) | below(x, 0x20);
    first_byte(bytes, i, flags, |b| b == b'"' || b == b'\\' || b < 0x20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proves_the_common_shapes() {
        let doc = "id: 7\nname: Ada Lovelace\nscore: 91.5\ntags[2]: a,\"b,c\"\n\
                   bio: \"x, y\"\nmeta:\n  created: 2026\n  empty:\nrows[2]{at,ok}:\n  \
                   \"2026-11-01T11:19:00Z\",true\n  b,null";
        assert!(proves_canonical(doc));
        assert_eq!(crate::toon::is_canonical(doc), Ok(true));
    }

    #[test]
    fn gives_up_on_what_it_does_not_know() {
        let given_up = [
            "",
            "a: 1\n",                             // the caller strips the one newline
            "a: 1\n\nb: 2",                       // blank line
            "a:  1",                              // two spaces
            "a: 1 ",                              // trailing space
            "a: 1\r",                             // carriage return
            "# c\na: 1",                          // comment
            "\"a b\": 1",                         // quoted key
            "a: 1\na: 2",                         // duplicate key (an error)
            "a[2]: 1",                            // wrong count (an error)
            "a[0]:",                              // empty array
            "a[2]:\n  - 1\n  - x",                // list items
            "a[2]{x}:\n  1\n  2\n  3",            // more rows than declared (an error)
            "a[1]{x,x}:\n  1,2",                  // duplicate field
            "a:\n  b:\n    c: 1\n  d:\n    e: 2", // an object of objects
            "a: 1.50",                            // a number not in its shortest spelling
            "a: \"b\"",                           // quotes not needed
            "a: \"\\u0041\"",                     // an escape the encoder does not write
            "a:\n    b: 1",                       // depth jump
            "a: 1\n b: 2",                        // odd indentation
            "[2]: 1,2",                           // root array
            "x",                                  // root primitive
        ];
        for text in given_up {
            assert!(!proves_canonical(text), "proved {text:?}");
        }
    }

    /// Every one- and two-byte edit of documents in the proof's shapes: wherever the fast
    /// proof says yes, the general check says yes too.
    #[test]
    fn never_proves_what_the_general_check_does_not() {
        let docs = [
            "id: 42\nname: Margaret Ritchie\nscore: 919.647\ntags[2]: cache,\"a, b\"\n\
             bio: \"crash-safe, token\"\nmeta:\n  n: -3\n  e:\nev[2]{at,kind,ok}:\n  \
             \"2026-11-01T11:19:00Z\",cache,false\n  \"x\\ny\",seg,null",
            "a:\n  b[1]{c}:\n    \"\"\n  d: 0.5\ne: x",
        ];
        let edits = [
            "", " ", "  ", ",", ":", "\"", "\\", "-", "0", "1.0", "[", "]", "{", "}", "[]", "\n",
            "\n  ", "#", "\t", "\r", "e", "a", "\u{feff}",
        ];
        let (mut proved, mut tried) = (0, 0);
        for doc in docs {
            assert!(proves_canonical(doc), "{doc:?}");
            for at in (0..=doc.len()).filter(|&i| doc.is_char_boundary(i)) {
                for cut in 0..=2 {
                    let end = (at + cut).min(doc.len());
                    if !doc.is_char_boundary(end) {
                        continue;
                    }
                    for edit in edits {
                        let mut text = doc.to_string();
                        text.replace_range(at..end, edit);
                        tried += 1;
                        if proves_canonical(&text) {
                            proved += 1;
                            let general = crate::toon::is_canonical_general(&text);
                            assert_eq!(general, Ok(true), "fast proof of {text:?}");
                        }
                    }
                }
            }
        }
        assert!(proved > 100 && proved < tried, "{proved} of {tried} edits proved");
    }

    #[test]
    fn the_word_scan_finds_what_a_byte_scan_finds() {
        let mut rng = fastrand::Rng::with_seed(5);
        let alphabet = [b'a', b' ', b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, b'!'];
        for _ in 0..20_000 {
            let bytes: Vec<u8> =
                (0..rng.usize(0..40)).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
            let from = rng.usize(0..=bytes.len());
            let naive = (from..bytes.len())
                .find(|&i| bytes[i] == b'"' || bytes[i] == b'\\' || bytes[i] < 0x20);
            assert_eq!(plain_string_end(&bytes, from), naive, "{bytes:?} from {from}");
            let quote = (from..bytes.len()).find(|&i| bytes[i] == b'"').unwrap_or(bytes.len());
            assert_eq!(find_byte(&bytes, from, b'"'), quote, "{bytes:?} from {from}");
            let spaces = bytes[from..].iter().take_while(|&&b| b == b' ').count();
            assert_eq!(leading_spaces(&bytes[from..]), spaces, "{bytes:?} from {from}");
        }
    }
}
