//! TOON text to values, or to nothing at all (validation).
//!
//! A line reader feeds a recursive descent over indentation, one function per form of the
//! spec (object fields, inline, tabular, list and keyed tabular arrays). The descent is
//! generic over a [`Sink`]: [`Build`] makes a [`Value`] tree, [`Check`] makes nothing and
//! only keeps what strict mode needs (sibling keys), so validation costs no allocation per
//! value. Both run the same code, so `validate(t).is_ok() == decode(t).is_ok()` by construction.
//!
//! Behaviour follows the reference implementation (`@toon-format/toon` 4.4) rule for rule,
//! with one documented difference taken from the spec fixtures: in non-strict mode a line
//! whose array header is malformed (`key[]: 1,2`, `foo [2]: x`) is read as a plain key-value
//! line instead of failing.

use std::borrow::Cow;

use super::error::{DecodeError, Rule};
use super::number::{NumericToken, parse_numeric_token, rounded};
use super::proof::proves_canonical;
use super::scan::{self, Field, trim_spaces};
use super::{CompactString, Map, Value};

/// How to read TOON text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Enforce declared lengths, row widths, unique keys, exact indentation and no blank lines
    /// inside arrays (spec §14). Default: true.
    pub strict: bool,
    /// Spaces per indentation level. Default: 2.
    pub indent: usize,
}

impl Default for DecodeOptions {
    fn default() -> DecodeOptions {
        DecodeOptions { strict: true, indent: 2 }
    }
}

/// Decodes TOON text (strict, indent 2).
pub fn decode(text: &str) -> Result<Value, DecodeError> {
    decode_with(text, &DecodeOptions::default())
}

/// Decodes TOON text with options.
pub fn decode_with(text: &str, options: &DecodeOptions) -> Result<Value, DecodeError> {
    Decoder::new(text, options, Build).document()
}

/// Checks TOON text without building values: the same rules as [`decode`], no tree.
pub fn validate(text: &str) -> Result<(), DecodeError> {
    validate_with(text, &DecodeOptions::default())
}

/// Checks TOON text with options.
pub fn validate_with(text: &str, options: &DecodeOptions) -> Result<(), DecodeError> {
    // Text proven canonical is valid (one trailing newline is a blank line past the root
    // value, which no rule forbids).
    if *options == DecodeOptions::default()
        && proves_canonical(text.strip_suffix('\n').unwrap_or(text))
    {
        return Ok(());
    }
    Decoder::new(text, options, Check).document()
}

/// What the descent produces for each construct.
pub(crate) trait Sink<'a> {
    type Value;
    type Object;
    type Array;
    /// An unquoted, non-empty primitive token: `true`, `false`, `null`, a number or a string.
    fn token(&mut self, token: &'a str, strict: bool) -> Result<Self::Value, String>;
    /// A quoted string's body, escapes unresolved.
    fn quoted(&mut self, body: &'a str) -> Result<Self::Value, scan::EscapeError>;
    /// A new object; `capacity` is the number of members expected (0: unknown).
    fn object(&mut self, capacity: usize) -> Self::Object;
    /// Adds a member; what a key already present means depends on `mode`. A duplicate under
    /// [`KeyMode::Reject`] is an error carrying the key.
    fn insert(
        &mut self,
        object: &mut Self::Object,
        key: Cow<'a, str>,
        value: Self::Value,
        mode: KeyMode,
    ) -> Result<(), String>;
    fn finish_object(&mut self, object: Self::Object) -> Self::Value;
    fn array(&mut self, capacity: usize) -> Self::Array;
    fn push(&mut self, array: &mut Self::Array, value: Self::Value);
    fn finish_array(&mut self, array: Self::Array) -> Self::Value;

    /// Whether the descent should report how canonical the text is (only [`Canon`] does).
    const CANON: bool = false;
    /// The text is not what the encoder writes.
    fn off_canon(&mut self) {}
    /// An array written in list form (its items decide whether that was canonical).
    fn mark_list_form(&mut self, _array: &mut Self::Array) {}
    /// An object written as a keyed table (so its members' shape is canonical by form).
    fn mark_keyed(&mut self, _object: &mut Self::Object) {}
}

/// How an object treats a key it already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyMode {
    /// Strict mode: a duplicate is an error.
    Reject,
    /// Non-strict mode: the later value replaces the earlier in place, as in JavaScript.
    Replace,
    /// The caller knows the key is new (a header's distinct field names).
    New,
}

/// Builds [`Value`] trees.
pub(crate) struct Build;

impl<'a> Sink<'a> for Build {
    type Value = Value;
    type Object = Map;
    type Array = Vec<Value>;

    fn token(&mut self, token: &'a str, strict: bool) -> Result<Value, String> {
        Ok(match token {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => match parse_numeric_token(token) {
                NumericToken::NotNumber => Value::String(token.into()),
                NumericToken::Number(n) => Value::Number(n),
                NumericToken::InexactInteger(nearest) if !strict => Value::Number(rounded(nearest)),
                NumericToken::InexactInteger(_) => return Err(inexact_integer(token)),
            },
        })
    }

    fn quoted(&mut self, body: &'a str) -> Result<Value, scan::EscapeError> {
        Ok(Value::String(match scan::unescape(body)? {
            Cow::Borrowed(s) => s.into(),
            Cow::Owned(s) => s.into(),
        }))
    }

    fn object(&mut self, capacity: usize) -> Map {
        Map::with_capacity(capacity)
    }

    fn insert(
        &mut self,
        object: &mut Map,
        key: Cow<'a, str>,
        value: Value,
        mode: KeyMode,
    ) -> Result<(), String> {
        let key: CompactString = match key {
            Cow::Borrowed(k) => k.into(),
            Cow::Owned(k) => k.into(),
        };
        match mode {
            KeyMode::New => object.push_new(key, value),
            KeyMode::Replace => drop(object.insert(key, value)),
            KeyMode::Reject if object.contains_key(&key) => return Err(key.into()),
            KeyMode::Reject => object.push_new(key, value),
        }
        Ok(())
    }

    fn finish_object(&mut self, object: Map) -> Value {
        Value::Object(object)
    }

    fn array(&mut self, capacity: usize) -> Vec<Value> {
        Vec::with_capacity(capacity)
    }

    fn push(&mut self, array: &mut Vec<Value>, value: Value) {
        array.push(value);
    }

    fn finish_array(&mut self, array: Vec<Value>) -> Value {
        Value::Array(array)
    }
}

fn inexact_integer(token: &str) -> String {
    format!(
        "integer {token} has no exact number form (beyond 64-bit); quote it to keep it as text, or decode non-strict to round it"
    )
}

/// Builds nothing; keeps sibling keys so strict mode can reject duplicates.
pub(crate) struct Check;

/// Keys seen in one object: a short list, a hash set once objects grow.
#[derive(Default)]
pub(crate) struct KeySet<'a> {
    few: Vec<Cow<'a, str>>,
    many: Option<std::collections::HashSet<Cow<'a, str>, foldhash::fast::RandomState>>,
}

impl<'a> KeySet<'a> {
    const LINEAR_LIMIT: usize = 16;

    /// Gives the key back when it was already there.
    fn insert(&mut self, key: Cow<'a, str>) -> Result<(), Cow<'a, str>> {
        if let Some(many) = &mut self.many {
            return if many.contains(&key) {
                Err(key)
            } else {
                many.insert(key);
                Ok(())
            };
        }
        if self.few.contains(&key) {
            return Err(key);
        }
        self.few.push(key);
        if self.few.len() > Self::LINEAR_LIMIT {
            self.many = Some(self.few.drain(..).collect());
        }
        Ok(())
    }
}

impl<'a> Sink<'a> for Check {
    type Value = ();
    type Object = KeySet<'a>;
    type Array = ();

    fn token(&mut self, token: &'a str, strict: bool) -> Result<(), String> {
        // Only integer literals past 18 digits can break the number-range rule.
        if strict
            && token.len() > 18
            && matches!(parse_numeric_token(token), NumericToken::InexactInteger(_))
        {
            return Err(inexact_integer(token));
        }
        Ok(())
    }

    fn quoted(&mut self, body: &'a str) -> Result<(), scan::EscapeError> {
        scan::check_escapes(body)
    }

    fn object(&mut self, _: usize) -> KeySet<'a> {
        KeySet::default()
    }

    fn insert(
        &mut self,
        keys: &mut KeySet<'a>,
        key: Cow<'a, str>,
        _: (),
        mode: KeyMode,
    ) -> Result<(), String> {
        if mode != KeyMode::Reject {
            return Ok(());
        }
        keys.insert(key).map_err(Cow::into_owned)
    }

    fn finish_object(&mut self, _: KeySet<'a>) {}

    fn array(&mut self, _: usize) {}

    fn push(&mut self, _: &mut (), _: ()) {}

    fn finish_array(&mut self, _: ()) {}
}

/// Whether TOON text is exactly what [`crate::toon::encode`] writes for its value (default
/// options), checked in one validating pass without building the value.
///
/// `Ok(true)` is a proof: `encode(&decode(text)?) == text`. `Ok(false)` means the text is
/// not canonical, or that proving it would need the value: a list of objects or an object of
/// two or more objects might have been a table, and only the tree can tell. One trailing
/// newline is ignored. Errors are the validator's.
pub fn is_canonical(text: &str) -> Result<bool, DecodeError> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    if proves_canonical(text) {
        return Ok(true);
    }
    is_canonical_general(text)
}

/// [`is_canonical`] by the validating descent alone (no fast proof), on text without its
/// trailing newline.
pub(crate) fn is_canonical_general(text: &str) -> Result<bool, DecodeError> {
    let mut canon = Canon { keys: Check, verdict: true };
    Decoder::new(text, &DecodeOptions::default(), &mut canon).document_checked()?;
    Ok(canon.verdict)
}

/// Validates like [`Check`] and keeps a verdict on canonical form.
pub(crate) struct Canon {
    keys: Check,
    verdict: bool,
}

/// Whether an unquoted token is what the encoder writes for its value: a literal, a number
/// in its shortest spelling, or a string that needs no quotes. (The canonical check and the
/// fast proof in `proof.rs` both judge tokens here.)
pub(crate) fn canonical_token(token: &str) -> bool {
    match token.as_bytes().first() {
        None => false,
        // Only these can start a number (`scan::numeric_literal_shape`).
        Some(b'-' | b'0'..=b'9') => {
            super::number::is_plainly_canonical(token)
                || match parse_numeric_token(token) {
                    NumericToken::Number(n) => n.is_spelled(token),
                    _ => super::encode::is_safe_unquoted(token, b','),
                }
        }
        Some(_) => {
            matches!(token, "true" | "false" | "null")
                || super::encode::is_safe_unquoted(token, b',')
        }
    }
}

/// Whether a quoted body is what the encoder writes: quoting was needed and the escapes are
/// its own. `Err` when the body does not unescape.
pub(crate) fn canonically_quoted(body: &str) -> Result<bool, scan::EscapeError> {
    let text = scan::unescape(body)?;
    Ok(!super::encode::is_safe_unquoted(&text, b',') && canonically_escaped(body))
}

/// Whether a quoted body (already known to unescape) uses exactly the escapes the encoder
/// writes: `\\ \" \n \r \t`, `\u00xx` (lowercase) for other control characters, and
/// no raw control character.
fn canonically_escaped(body: &str) -> bool {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0..=0x1f => return false,
            b'\\' => match bytes.get(i + 1) {
                Some(b'\\' | b'"' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = &bytes[i + 2..i + 6];
                    let lower = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
                    if &hex[..2] != b"00" || !hex[2..].iter().all(|&b| lower(b)) {
                        return false;
                    }
                    let code = u8::from_str_radix(&body[i + 4..i + 6], 16).unwrap_or(0xff);
                    if code >= 0x20 || matches!(code, b'\n' | b'\r' | b'\t') {
                        return false;
                    }
                    i += 6;
                }
                _ => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// What [`Canon`] needs to know of a value to judge its container's form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Primitive,
    Array,
    EmptyObject,
    Object,
}

pub(crate) struct CanonObject<'a> {
    keys: KeySet<'a>,
    members: usize,
    all_objects: bool,
    keyed: bool,
}

pub(crate) struct CanonArray {
    items: usize,
    all_primitive: bool,
    all_objects: bool,
    list_form: bool,
}

impl<'a> Sink<'a> for &mut Canon {
    type Value = Kind;
    type Object = CanonObject<'a>;
    type Array = CanonArray;
    const CANON: bool = true;

    fn token(&mut self, token: &'a str, strict: bool) -> Result<Kind, String> {
        self.keys.token(token, strict)?;
        if !canonical_token(token) {
            self.verdict = false;
        }
        Ok(Kind::Primitive)
    }

    fn quoted(&mut self, body: &'a str) -> Result<Kind, scan::EscapeError> {
        if !canonically_quoted(body)? {
            self.verdict = false;
        }
        Ok(Kind::Primitive)
    }

    fn object(&mut self, _: usize) -> CanonObject<'a> {
        CanonObject { keys: KeySet::default(), members: 0, all_objects: true, keyed: false }
    }

    fn insert(
        &mut self,
        object: &mut CanonObject<'a>,
        key: Cow<'a, str>,
        value: Kind,
        mode: KeyMode,
    ) -> Result<(), String> {
        self.keys.insert(&mut object.keys, key, (), mode)?;
        object.members += 1;
        object.all_objects &= value == Kind::Object;
        Ok(())
    }

    fn finish_object(&mut self, object: CanonObject<'a>) -> Kind {
        // Two or more non-empty objects might have been a keyed table: only the values tell.
        if !object.keyed && object.members >= 2 && object.all_objects {
            self.verdict = false;
        }
        if object.members == 0 { Kind::EmptyObject } else { Kind::Object }
    }

    fn array(&mut self, _: usize) -> CanonArray {
        CanonArray { items: 0, all_primitive: true, all_objects: true, list_form: false }
    }

    fn push(&mut self, array: &mut CanonArray, value: Kind) {
        array.items += 1;
        array.all_primitive &= value == Kind::Primitive;
        array.all_objects &= matches!(value, Kind::Object | Kind::EmptyObject);
    }

    fn finish_array(&mut self, array: CanonArray) -> Kind {
        // Primitives go inline; objects might have been a table (only the values tell).
        if array.list_form && array.items > 0 && (array.all_primitive || array.all_objects) {
            self.verdict = false;
        }
        Kind::Array
    }

    fn off_canon(&mut self) {
        self.verdict = false;
    }

    fn mark_list_form(&mut self, array: &mut CanonArray) {
        array.list_form = true;
    }

    fn mark_keyed(&mut self, object: &mut CanonObject<'a>) {
        object.keyed = true;
    }
}

/// One significant line: not blank, not a comment.
#[derive(Clone, Copy, Debug)]
struct Line<'a> {
    /// The line after its indentation, trailing spaces removed (for list items: after `- `).
    content: &'a str,
    depth: usize,
    /// 1-based.
    number: u32,
    /// Byte offset of the line's first byte in the document.
    start: usize,
}

/// Splits the document into significant lines, one line of lookahead.
///
/// All lines are scanned up front into a vector, and the descent walks it: handing a freshly
/// scanned line from call to call through memory defeated the CPU's store forwarding and
/// cost a third of validation time. A scanning error ends the vector and is returned when
/// the descent reaches it, so errors still come in document order.
struct Reader<'a> {
    text: &'a str,
    /// Start of the next unscanned line; past the end when all are scanned.
    next: usize,
    number: u32,
    lines: Vec<Line<'a>>,
    /// The next line to hand out.
    position: usize,
    /// What stopped the scan early, if anything.
    failure: Option<DecodeError>,
    /// Blank line numbers, ascending (strict mode rejects them inside arrays).
    blank_lines: Vec<u32>,
    /// No byte-order mark, carriage return, comment, blank line, tab or trailing space:
    /// nothing the encoder never writes (see [`is_canonical`]).
    plain: bool,
    indent: usize,
    strict: bool,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str, options: &DecodeOptions) -> Reader<'a> {
        let mut reader = Reader {
            text,
            next: 0,
            number: 0,
            lines: Vec::new(),
            position: 0,
            failure: None,
            blank_lines: Vec::new(),
            plain: true,
            indent: options.indent.max(1),
            strict: options.strict,
        };
        loop {
            match reader.scan() {
                Ok(Some(line)) => reader.lines.push(line),
                Ok(None) => break,
                Err(error) => {
                    reader.failure = Some(error);
                    break;
                }
            }
        }
        reader
    }

    #[inline]
    fn peek(&self) -> Result<Option<Line<'a>>, DecodeError> {
        match self.lines.get(self.position) {
            Some(line) => Ok(Some(*line)),
            None => match &self.failure {
                Some(error) => Err(error.clone()),
                None => Ok(None),
            },
        }
    }

    /// Consumes the line `peek` returned.
    fn consume(&mut self) {
        self.position += 1;
    }

    /// The line consumed last.
    fn last(&self) -> Option<Line<'a>> {
        self.position.checked_sub(1).map(|i| self.lines[i])
    }

    /// Scans the next significant line. Inlined into its one caller, so lines go straight
    /// into the vector.
    #[inline(always)]
    fn scan(&mut self) -> Result<Option<Line<'a>>, DecodeError> {
        let bytes = self.text.as_bytes();
        while self.next <= bytes.len() {
            let start = self.next;
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
            self.next = end + 1;
            self.number += 1;
            let mut raw = &self.text[start..end];
            let mut line_start = start;
            if self.number == 1 && raw.starts_with('\u{feff}') {
                raw = &raw[3..];
                line_start += 3;
                self.plain = false;
            }
            if let Some(stripped) = raw.strip_suffix('\r') {
                raw = stripped;
                self.plain = false;
            }
            let bytes = raw.as_bytes();
            let mut leading = 0;
            let mut first_tab = None;
            while let Some(&b) = bytes.get(leading) {
                match b {
                    b' ' => {}
                    b'\t' => {
                        first_tab.get_or_insert(leading);
                    }
                    _ => break,
                }
                leading += 1;
            }
            let indent = match first_tab {
                Some(tab) if self.strict => tab,
                _ => leading,
            };
            let tabs = match first_tab {
                Some(_) if !self.strict => bytes[..leading].iter().filter(|&&b| b == b'\t').count(),
                _ => 0,
            };
            let content = raw[indent..].trim_end_matches(' ');
            if first_tab.is_some() || content.len() + indent != raw.len() {
                self.plain = false;
            }
            if first_tab.is_none() && content.starts_with('#') {
                self.plain = false;
                continue;
            }
            if content.is_empty() {
                // The empty document is one empty line, and canonical (`{}`).
                self.plain &= self.text.is_empty();
                if self.strict {
                    self.blank_lines.push(self.number);
                }
                continue;
            }
            let (levels, remainder) = self.levels(indent - tabs);
            let line =
                Line { content, depth: levels + tabs, number: self.number, start: line_start };
            if self.strict {
                if first_tab.is_some() {
                    return Err(self.error(
                        &line,
                        indent,
                        Rule::Indentation,
                        "tabs are not allowed in indentation in strict mode".into(),
                    ));
                }
                if remainder != 0 {
                    return Err(self.error(
                        &line,
                        0,
                        Rule::Indentation,
                        format!(
                            "indentation must be a multiple of {} spaces, found {indent}",
                            self.indent
                        ),
                    ));
                }
            }
            return Ok(Some(line));
        }
        Ok(None)
    }

    /// Indentation levels in `spaces`, and the spaces left over. A shift when the indent size
    /// is a power of two: a division per line was a third of validation's line scanning.
    fn levels(&self, spaces: usize) -> (usize, usize) {
        if self.indent.is_power_of_two() {
            let shift = self.indent.trailing_zeros();
            (spaces >> shift, spaces & (self.indent - 1))
        } else {
            (spaces / self.indent, spaces % self.indent)
        }
    }

    /// An error at byte `offset` of the line's raw text.
    fn error(&self, line: &Line<'_>, offset: usize, rule: Rule, message: String) -> DecodeError {
        let end = (line.start + offset).min(self.text.len());
        let column = self.text.get(line.start..end).map_or(offset, |s| s.chars().count()) + 1;
        DecodeError { line: line.number, column: column as u32, rule, message }
    }
}

/// A parsed `key[N<:><delim>]{fields}: inline` header.
struct Header<'a> {
    key: Option<Cow<'a, str>>,
    length: usize,
    delimiter: u8,
    fields: Option<Vec<Field<'a>>>,
    /// How rows insert their fields: `New` when the names are distinct at every level.
    field_mode: KeyMode,
    keyed: bool,
    inline: Option<&'a str>,
}

/// What a line's header reading found.
enum HeaderParse<'a> {
    NotHeader,
    /// Malformed: an error in strict mode, a plain key-value line otherwise.
    Invalid {
        offset: usize,
        reason: String,
    },
    Header {
        header: Header<'a>,
        strict_error: Option<String>,
    },
}

struct Decoder<'a, S: Sink<'a>> {
    reader: Reader<'a>,
    sink: S,
    strict: bool,
    /// Cells of the current row, reused across rows.
    cells: Vec<(&'a str, usize)>,
}

type Result<T, E = DecodeError> = std::result::Result<T, E>;

impl<'a, S: Sink<'a>> Decoder<'a, S> {
    fn new(text: &'a str, options: &DecodeOptions, sink: S) -> Self {
        Decoder {
            reader: Reader::new(text, options),
            sink,
            strict: options.strict,
            cells: Vec::new(),
        }
    }

    /// [`Decoder::document`], then the reader's part of the canonical verdict.
    fn document_checked(mut self) -> Result<()> {
        self.document_inner()?;
        if !self.reader.plain {
            self.sink.off_canon();
        }
        Ok(())
    }

    fn document(mut self) -> Result<S::Value> {
        self.document_inner()
    }

    fn document_inner(&mut self) -> Result<S::Value> {
        let Some(first) = self.reader.peek()? else {
            let empty = self.sink.object(0);
            return Ok(self.sink.finish_object(empty));
        };
        if first.depth != 0 {
            return Err(self.over_indented(&first, 0));
        }
        if trim_spaces(first.content) == "[]" {
            self.reader.consume();
            let empty = self.sink.array(0);
            let value = self.sink.finish_array(empty);
            self.assert_consumed()?;
            return Ok(value);
        }
        if is_array_header_content(first.content)
            && let Some(header) = self.header(&first)?
        {
            if S::CANON && header.length == 0 {
                self.sink.off_canon();
            }
            self.reader.consume();
            let value = self.array_from_header(header, 0, first)?;
            self.assert_consumed()?;
            return Ok(value);
        }
        self.reader.consume();
        let following = self.reader.peek()?;
        let key_value = is_key_value(first.content);
        match following {
            None if !key_value => return self.primitive(&first, first.content, 0),
            Some(next) if !key_value && next.depth == 0 => {
                return Err(self.error(
                    &first,
                    0,
                    Rule::Structure,
                    "a document of several lines must start with a key-value or array-header line"
                        .into(),
                ));
            }
            _ => {}
        }
        let mut object = self.sink.object(0);
        self.key_value(first, 0, &mut object)?;
        while let Some(line) = self.reader.peek()? {
            if line.depth != 0 {
                return Err(self.over_indented(&line, 0));
            }
            self.reader.consume();
            self.key_value(line, 0, &mut object)?;
        }
        Ok(self.sink.finish_object(object))
    }

    fn assert_consumed(&mut self) -> Result<()> {
        match self.reader.peek()? {
            Some(line) => Err(self.error(
                &line,
                0,
                Rule::Structure,
                "unexpected content after the document's root value".into(),
            )),
            None => Ok(()),
        }
    }

    /// One `key: value`, `key:` + nested block, or `key[N]...` line and what hangs below it.
    fn key_value(&mut self, line: Line<'a>, base: usize, object: &mut S::Object) -> Result<()> {
        if let Some(colon) = plain_key_colon(line.content) {
            let raw_key = &line.content[..colon];
            let key = trim_spaces(raw_key);
            if S::CANON && (key.len() != raw_key.len() || !super::encode::is_bare_key(key)) {
                self.sink.off_canon();
            }
            return self.member(line, Cow::Borrowed(key), colon + 1, base, object);
        }
        let header = self.header(&line)?;
        self.key_value_parsed(line, header, base, object)
    }

    fn key_value_parsed(
        &mut self,
        line: Line<'a>,
        header: Option<Header<'a>>,
        base: usize,
        object: &mut S::Object,
    ) -> Result<()> {
        if let Some(mut header) = header {
            if S::CANON && header.length == 0 {
                self.sink.off_canon();
            }
            let Some(key) = header.key.take() else {
                let message = if header.keyed {
                    "a keyless keyed header is only valid at the document root"
                } else {
                    "a keyless array header is only valid at the document root or as a list item"
                };
                return Err(self.error(&line, 0, Rule::Header, message.into()));
            };
            let value = self.array_from_header(header, base, line)?;
            return self.insert_checked(object, key, value, &line);
        }
        let (key, end) = self.key_token(&line)?;
        self.member(line, key, end, base, object)
    }

    /// The value after a key's colon (`end` is just past it), on this line or nested below.
    fn member(
        &mut self,
        line: Line<'a>,
        key: Cow<'a, str>,
        end: usize,
        base: usize,
        object: &mut S::Object,
    ) -> Result<()> {
        let rest = trim_spaces(&line.content[end..]);
        if S::CANON {
            let after = &line.content[end..];
            if !(after.is_empty() || (after.starts_with(' ') && &after[1..] == rest)) {
                self.sink.off_canon();
            }
        }
        let value = if rest.is_empty() {
            match self.reader.peek()? {
                Some(next) if next.depth > base => {
                    self.no_depth_jump(&next, base)?;
                    self.object_fields(base + 1)?
                }
                _ => {
                    let empty = self.sink.object(0);
                    self.sink.finish_object(empty)
                }
            }
        } else if rest == "[]" {
            let empty = self.sink.array(0);
            self.sink.finish_array(empty)
        } else {
            let offset = rest.as_ptr() as usize - line.content.as_ptr() as usize;
            self.primitive(&line, rest, offset)?
        };
        self.insert_checked(object, key, value, &line)
    }

    fn insert_checked(
        &mut self,
        object: &mut S::Object,
        key: Cow<'a, str>,
        value: S::Value,
        line: &Line<'a>,
    ) -> Result<()> {
        let mode = if self.strict { KeyMode::Reject } else { KeyMode::Replace };
        self.sink.insert(object, key, value, mode).map_err(|key| {
            self.error(line, 0, Rule::DuplicateKey, format!("duplicate sibling key {key:?}"))
        })
    }

    /// The members of a nested object: every following line at `base` depth or deeper.
    fn object_fields(&mut self, base: usize) -> Result<S::Value> {
        let mut object = self.sink.object(0);
        let mut depth = None;
        while let Some(line) = self.reader.peek()? {
            if line.depth < base {
                break;
            }
            let expected = *depth.get_or_insert(line.depth);
            if line.depth != expected {
                return Err(self.over_indented(&line, expected));
            }
            self.reader.consume();
            self.key_value(line, expected, &mut object)?;
        }
        Ok(self.sink.finish_object(object))
    }

    /// Members of a list item after its first line.
    fn sibling_fields(&mut self, depth: usize, object: &mut S::Object) -> Result<()> {
        while let Some(line) = self.reader.peek()? {
            if line.depth < depth {
                break;
            }
            if line.depth != depth {
                return Err(self.over_indented(&line, depth));
            }
            self.reader.consume();
            self.key_value(line, depth, object)?;
        }
        Ok(())
    }

    /// Depth of the lines inside a block opened at `base`.
    fn content_depth(&mut self, base: usize) -> Result<usize> {
        match self.reader.peek()? {
            Some(first) if first.depth > base + 1 => {
                self.no_depth_jump(&first, base)?;
                Ok(first.depth)
            }
            _ => Ok(base + 1),
        }
    }

    fn array_from_header(
        &mut self,
        header: Header<'a>,
        base: usize,
        line: Line<'a>,
    ) -> Result<S::Value> {
        if header.keyed {
            return self.keyed_object(header, base, line);
        }
        // A header cannot promise more elements than the document has bytes.
        let capacity = header.length.min(self.reader.text.len() - line.start);
        let mut array = self.sink.array(capacity);
        if let Some(inline) = header.inline {
            self.inline_values(&header, inline, &line, &mut array)?;
        } else if let Some(fields) = &header.fields {
            self.tabular_rows(&header, fields, base, line, &mut array)?;
        } else {
            self.sink.mark_list_form(&mut array);
            self.list_items(&header, base, line, &mut array)?;
        }
        Ok(self.sink.finish_array(array))
    }

    fn inline_values(
        &mut self,
        header: &Header<'a>,
        inline: &'a str,
        line: &Line<'a>,
        array: &mut S::Array,
    ) -> Result<()> {
        let base_offset = inline.as_ptr() as usize - line.content.as_ptr() as usize;
        let mut count = 0;
        let mut token_bytes = 0;
        scan::split_values(inline, header.delimiter, |token, offset| {
            let value = self.primitive(line, token, base_offset + offset)?;
            self.sink.push(array, value);
            count += 1;
            token_bytes += token.len();
            Ok(())
        })?;
        // No spaces around delimiters in canonical text.
        if S::CANON && token_bytes + count - 1 != inline.len() {
            self.sink.off_canon();
        }
        if self.strict && count != header.length {
            return Err(self.error(
                line,
                0,
                Rule::Count,
                format!("expected {} inline values, found {count}", header.length),
            ));
        }
        Ok(())
    }

    fn tabular_rows(
        &mut self,
        header: &Header<'a>,
        fields: &[Field<'a>],
        base: usize,
        header_line: Line<'a>,
        array: &mut S::Array,
    ) -> Result<()> {
        let row_depth = self.content_depth(base)?;
        let width = scan::count_leaf_fields(fields);
        let mut count = 0;
        let mut range = None;
        let mut last = header_line;
        while !self.strict || count < header.length {
            let Some(line) = self.reader.peek()? else { break };
            if line.depth <= base {
                break;
            }
            if line.depth != row_depth {
                return Err(self.over_indented(&line, row_depth));
            }
            if !is_data_row(line.content, header.delimiter) {
                break;
            }
            self.reader.consume();
            range.get_or_insert((line.number, line.number)).1 = line.number;
            last = line;
            let row =
                self.row(fields, header.field_mode, width, &line, line.content, header.delimiter)?;
            self.sink.push(array, row);
            count += 1;
        }
        if self.strict {
            self.expect_count(count, header.length, "tabular rows", &last)?;
            self.no_blank_lines(range, "a tabular array")?;
            if let Some(next) = self.reader.peek()?
                && next.depth == row_depth
                && !next.content.starts_with("- ")
                && is_data_row(next.content, header.delimiter)
            {
                return Err(self.error(
                    &next,
                    0,
                    Rule::Count,
                    format!("expected {} tabular rows, found more", header.length),
                ));
            }
        }
        Ok(())
    }

    fn keyed_object(
        &mut self,
        header: Header<'a>,
        base: usize,
        header_line: Line<'a>,
    ) -> Result<S::Value> {
        let fields = header.fields.as_deref().unwrap_or_default();
        let entry_depth = self.content_depth(base)?;
        let width = scan::count_leaf_fields(fields);
        let mut object = self.sink.object(0);
        self.sink.mark_keyed(&mut object);
        let mut count = 0;
        let mut range = None;
        let mut last = header_line;
        while let Some(line) = self.reader.peek()? {
            if line.depth <= base {
                break;
            }
            if line.depth != entry_depth {
                return Err(self.over_indented(&line, entry_depth));
            }
            if scan::find_unquoted(line.content, b':', 0).is_none() {
                if self.strict {
                    return Err(self.error(
                        &line,
                        0,
                        Rule::Structure,
                        "expected an entry row `key: cells` inside a keyed tabular object".into(),
                    ));
                }
                // Non-strict mode skips a stray line, as the spec fixtures require.
                self.reader.consume();
                continue;
            }
            self.reader.consume();
            range.get_or_insert((line.number, line.number)).1 = line.number;
            last = line;
            let (key, end) = self.key_token(&line)?;
            let cells = trim_spaces(&line.content[end..]);
            if S::CANON && line.content.len() != end + 1 + cells.len() {
                self.sink.off_canon();
            }
            let row = self.row(fields, header.field_mode, width, &line, cells, header.delimiter)?;
            self.insert_checked(&mut object, key, row, &line)?;
            count += 1;
        }
        if self.strict {
            self.expect_count(count, header.length, "keyed entries", &last)?;
            self.no_blank_lines(range, "a keyed tabular object")?;
        }
        Ok(self.sink.finish_object(object))
    }

    /// One row's cells, shaped by the header's field tree.
    fn row(
        &mut self,
        fields: &[Field<'a>],
        mode: KeyMode,
        width: usize,
        line: &Line<'a>,
        cells: &'a str,
        delimiter: u8,
    ) -> Result<S::Value> {
        let base_offset = cells.as_ptr() as usize - line.content.as_ptr() as usize;
        let mut buffer = std::mem::take(&mut self.cells);
        buffer.clear();
        scan::split_values::<()>(cells, delimiter, |cell, offset| {
            buffer.push((cell, base_offset + offset));
            Ok(())
        })
        .ok();
        if S::CANON {
            let cell_bytes: usize = buffer.iter().map(|(cell, _)| cell.len()).sum();
            if cell_bytes + buffer.len().saturating_sub(1) != cells.len() {
                self.sink.off_canon();
            }
        }
        if buffer.len() != width {
            return Err(self.error(
                line,
                0,
                Rule::Count,
                format!("expected {width} values in this row, found {}", buffer.len()),
            ));
        }
        let mut next_cell = 0;
        let row = self.field_group(fields, mode, &buffer, &mut next_cell, line);
        self.cells = buffer;
        row
    }

    fn field_group(
        &mut self,
        fields: &[Field<'a>],
        mode: KeyMode,
        cells: &[(&'a str, usize)],
        next: &mut usize,
        line: &Line<'a>,
    ) -> Result<S::Value> {
        let mut object = self.sink.object(fields.len());
        for field in fields {
            let value = match &field.children {
                Some(children) => self.field_group(children, mode, cells, next, line)?,
                None => {
                    let (cell, offset) = cells[*next];
                    *next += 1;
                    self.primitive(line, cell, offset)?
                }
            };
            // Field names were checked once, in the header: `New` when they are distinct.
            let _ = self.sink.insert(&mut object, field.name.clone(), value, mode);
        }
        Ok(self.sink.finish_object(object))
    }

    fn list_items(
        &mut self,
        header: &Header<'a>,
        base: usize,
        header_line: Line<'a>,
        array: &mut S::Array,
    ) -> Result<()> {
        let item_depth = self.content_depth(base)?;
        let mut count = 0;
        let mut range: Option<(u32, u32)> = None;
        let mut last = header_line;
        while !self.strict || count < header.length {
            let Some(line) = self.reader.peek()? else { break };
            if line.depth <= base {
                break;
            }
            if line.depth != item_depth {
                return Err(self.over_indented(&line, item_depth));
            }
            if !(line.content.starts_with("- ") || line.content == "-") {
                break;
            }
            self.reader.consume();
            let item = self.list_item(line, item_depth)?;
            self.sink.push(array, item);
            // The item may span several lines: the range ends at its last one.
            last = self.reader.last().unwrap_or(line);
            range.get_or_insert((line.number, line.number)).1 = last.number;
            count += 1;
        }
        if self.strict {
            self.expect_count(count, header.length, "list items", &last)?;
            self.no_blank_lines(range, "a list array")?;
            if let Some(next) = self.reader.peek()?
                && next.depth == item_depth
                && next.content.starts_with("- ")
            {
                return Err(self.error(
                    &next,
                    0,
                    Rule::Count,
                    format!("expected {} list items, found more", header.length),
                ));
            }
        }
        Ok(())
    }

    fn list_item(&mut self, line: Line<'a>, depth: usize) -> Result<S::Value> {
        let after = match line.content.strip_prefix("- ") {
            Some(after) => after.trim_start_matches(' '),
            None => "",
        };
        if trim_spaces(after).is_empty() {
            let empty = self.sink.object(0);
            return Ok(self.sink.finish_object(empty));
        }
        if S::CANON && line.content != "-" && after.len() + 2 != line.content.len() {
            self.sink.off_canon();
        }
        if trim_spaces(after) == "[]" {
            // The encoder writes an empty array item as `- [0]:`.
            self.sink.off_canon();
            let empty = self.sink.array(0);
            return Ok(self.sink.finish_array(empty));
        }
        let item = Line { content: after, ..line };
        let mut header = None;
        if plain_key_colon(after).is_none() {
            match self.header(&item)? {
                Some(keyless) if keyless.key.is_none() => {
                    if keyless.keyed || keyless.fields.is_some() {
                        let message = if keyless.keyed {
                            "a keyless keyed header is only valid at the document root"
                        } else {
                            "a keyless header with a field list is only valid at the document root"
                        };
                        return Err(self.error(&item, 0, Rule::Header, message.into()));
                    }
                    return self.array_from_header(keyless, depth, item);
                }
                None if !is_key_value(after) => return self.primitive(&item, after, 0),
                parsed => header = parsed,
            }
        }
        // An object whose first member shares the `- ` line.
        let mut object = self.sink.object(0);
        match header {
            Some(header) => self.key_value_parsed(item, Some(header), depth + 1, &mut object)?,
            None => self.key_value(item, depth + 1, &mut object)?,
        }
        self.sibling_fields(depth + 1, &mut object)?;
        Ok(self.sink.finish_object(object))
    }

    /// A primitive token; `offset` is its byte offset in `line.content`.
    fn primitive(&mut self, line: &Line<'a>, token: &'a str, offset: usize) -> Result<S::Value> {
        let token = trim_spaces(token);
        let at = offset;
        if token.starts_with('"') {
            let Some(close) = scan::find_closing_quote(token, 0) else {
                return Err(self.error(
                    line,
                    at,
                    Rule::String,
                    "unterminated string: missing closing quote".into(),
                ));
            };
            if close != token.len() - 1 {
                return Err(self.error(
                    line,
                    at + close + 1,
                    Rule::String,
                    "unexpected characters after closing quote".into(),
                ));
            }
            return self
                .sink
                .quoted(&token[1..close])
                .map_err(|e| self.error(line, at + 1 + e.offset, Rule::String, e.message));
        }
        if token.is_empty() {
            // The encoder writes an empty string as `""`.
            self.sink.off_canon();
            return self.sink.quoted("").map_err(|e| self.error(line, at, Rule::String, e.message));
        }
        self.sink
            .token(token, self.strict)
            .map_err(|message| self.error(line, at, Rule::NumberRange, message))
    }

    /// A key before its colon: quoted (unescaped) or bare (spaces trimmed). Returns the key
    /// and the offset just past the colon.
    fn key_token(&mut self, line: &Line<'a>) -> Result<(Cow<'a, str>, usize)> {
        let content = line.content;
        if content.starts_with('"') {
            let Some(close) = scan::find_closing_quote(content, 0) else {
                return Err(self.error(line, 0, Rule::String, "unterminated quoted key".into()));
            };
            let key = scan::unescape(&content[1..close])
                .map_err(|e| self.error(line, 1 + e.offset, Rule::String, e.message))?;
            let after = close + 1 + content[close + 1..].bytes().take_while(|&b| b == b' ').count();
            if content.as_bytes().get(after) != Some(&b':') {
                return Err(self.error(
                    line,
                    after,
                    Rule::Structure,
                    "missing colon after key".into(),
                ));
            }
            if S::CANON {
                self.check_key(&content[..close + 1], &key);
                if after != close + 1 {
                    self.sink.off_canon();
                }
            }
            return Ok((key, after + 1));
        }
        match scan::find_unquoted(content, b':', 0) {
            Some(colon) => {
                let key = trim_spaces(&content[..colon]);
                if S::CANON {
                    self.check_key(&content[..colon], key);
                }
                Ok((Cow::Borrowed(key), colon + 1))
            }
            None => Err(self.error(
                line,
                content.len(),
                Rule::Structure,
                "missing colon after key".into(),
            )),
        }
    }

    /// Canonical verdict on a key as written (`raw`, quotes included) for its value `key`.
    fn check_key(&mut self, raw: &str, key: &str) {
        let mut expected = String::with_capacity(raw.len());
        super::encode::push_key(&mut expected, key);
        if expected != raw {
            self.sink.off_canon();
        }
    }

    /// Canonical verdict on a header line: it must read exactly as the encoder writes it.
    fn check_header(&mut self, line: &Line<'a>, header: &Header<'a>) {
        let mut expected = String::with_capacity(line.content.len());
        if let Some(key) = &header.key {
            super::encode::push_key(&mut expected, key);
        }
        expected.push('[');
        expected.push_str(itoa::Buffer::new().format(header.length));
        if header.keyed {
            expected.push(':');
        }
        expected.push(']');
        if let Some(fields) = &header.fields {
            push_fields(&mut expected, fields);
        }
        expected.push(':');
        if let Some(inline) = header.inline {
            expected.push(' ');
            expected.push_str(inline);
        }
        // Comma is the canonical delimiter; keyed tables need two members or more.
        if expected != line.content
            || header.delimiter != b','
            || (header.keyed && header.length < 2)
        {
            self.sink.off_canon();
        }
    }

    /// Reads the line's array header, if it has one (see [`HeaderParse`]).
    fn header(&mut self, line: &Line<'a>) -> Result<Option<Header<'a>>> {
        match parse_header(line.content)
            .map_err(|(offset, message)| self.error(line, offset, Rule::String, message))?
        {
            HeaderParse::NotHeader => Ok(None),
            HeaderParse::Invalid { .. } if !self.strict => Ok(None),
            HeaderParse::Invalid { offset, reason } => {
                Err(self.error(line, offset, Rule::Header, reason))
            }
            HeaderParse::Header { strict_error: Some(reason), .. } if self.strict => {
                Err(self.error(line, 0, Rule::Header, reason))
            }
            HeaderParse::Header { header, .. } => {
                if S::CANON {
                    self.check_header(line, &header);
                }
                Ok(Some(header))
            }
        }
    }

    fn expect_count(
        &self,
        found: usize,
        expected: usize,
        what: &str,
        line: &Line<'a>,
    ) -> Result<()> {
        if found == expected {
            return Ok(());
        }
        Err(self.error(line, 0, Rule::Count, format!("expected {expected} {what}, found {found}")))
    }

    fn no_blank_lines(&self, range: Option<(u32, u32)>, inside: &str) -> Result<()> {
        let Some((first, last)) = range else { return Ok(()) };
        let blanks = &self.reader.blank_lines;
        let i = blanks.partition_point(|&b| b <= first);
        match blanks.get(i) {
            Some(&blank) if blank < last => Err(DecodeError {
                line: blank,
                column: 1,
                rule: Rule::BlankLine,
                message: format!("blank lines inside {inside} are not allowed in strict mode"),
            }),
            _ => Ok(()),
        }
    }

    fn no_depth_jump(&self, line: &Line<'a>, parent: usize) -> Result<()> {
        if self.strict && line.depth > parent + 1 {
            return Err(self.error(
                line,
                0,
                Rule::Indentation,
                format!("indentation jumps from depth {parent} to {}", line.depth),
            ));
        }
        Ok(())
    }

    fn over_indented(&self, line: &Line<'a>, expected: usize) -> DecodeError {
        self.error(
            line,
            0,
            Rule::Indentation,
            format!("over-indented line: expected depth {expected}, found {}", line.depth),
        )
    }

    /// Byte offset of the line's content (after indentation, or after `- `) in its raw text.
    fn content_offset(&self, line: &Line<'a>) -> usize {
        line.content.as_ptr() as usize - (line.start + self.reader.text.as_ptr() as usize)
    }

    /// An error at byte `offset` of the line's content (0: its first character).
    fn error(&self, line: &Line<'a>, offset: usize, rule: Rule, message: String) -> DecodeError {
        self.reader.error(line, self.content_offset(line) + offset, rule, message)
    }
}

/// The colon of a plain `key: value` line: an unquoted key whose first unquoted `[` or `:` is
/// the colon. Such a line cannot hold an array header, so the header parse is skipped.
fn plain_key_colon(content: &str) -> Option<usize> {
    if content.starts_with('"') {
        return None;
    }
    let found = scan::find_unquoted_either(content, b'[', b':')?;
    (content.as_bytes()[found] == b':').then_some(found)
}

/// A field list as the encoder writes it: `{a,b{c,d}}`.
fn push_fields(out: &mut String, fields: &[Field<'_>]) {
    out.push('{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        super::encode::push_key(out, &field.name);
        if let Some(children) = &field.children {
            push_fields(out, children);
        }
    }
    out.push('}');
}

/// `[...]: ...` at the start of a line (root or list item) with a colon somewhere.
fn is_array_header_content(content: &str) -> bool {
    trim_spaces(content).starts_with('[') && is_key_value(content)
}

fn is_key_value(content: &str) -> bool {
    scan::find_unquoted(content, b':', 0).is_some()
}

/// A tabular row, rather than a `key: value` line: its first unquoted delimiter comes before
/// its first unquoted colon, or it has no colon.
fn is_data_row(content: &str, delimiter: u8) -> bool {
    match scan::find_unquoted(content, b':', 0) {
        None => true,
        Some(colon) => scan::find_unquoted(&content[..colon], delimiter, 0).is_some(),
    }
}

/// Reads `key[N<:><delim>]{fields}: inline` off a line. `Err` is a bad quoted key, an error
/// in any mode.
fn parse_header(content: &str) -> std::result::Result<HeaderParse<'_>, (usize, String)> {
    use HeaderParse::{Invalid, NotHeader};
    let bytes = content.as_bytes();
    let bracket_start = if content.starts_with('"') {
        match scan::find_closing_quote(content, 0) {
            Some(close) if bytes.get(close + 1) == Some(&b'[') => close + 1,
            _ => return Ok(NotHeader),
        }
    } else {
        match scan::find_unquoted(content, b'[', 0) {
            Some(i) => i,
            None => return Ok(NotHeader),
        }
    };
    match scan::find_unquoted(content, b':', 0) {
        Some(colon) if colon > bracket_start => {}
        _ => return Ok(NotHeader),
    }
    let invalid = |offset: usize, reason: String| Ok(Invalid { offset, reason });
    let Some(bracket_end) = scan::find_unquoted(content, b']', bracket_start) else {
        return invalid(bracket_start, "unterminated bracket segment".into());
    };
    let mut brace_end = bracket_end + 1;
    let brace_start = scan::find_unquoted(content, b'{', bracket_end);
    if let Some(brace) = brace_start
        && scan::find_unquoted(content, b':', bracket_end).is_some_and(|colon| brace < colon)
    {
        let gap = &content[bracket_end + 1..brace];
        if !gap.is_empty() {
            return invalid(bracket_end + 1, describe_gap(gap, "field list"));
        }
        if let Some(matching) = scan::find_matching_brace(content, brace) {
            brace_end = matching + 1;
        }
    }
    let Some(colon) = scan::find_unquoted(content, b':', bracket_end.max(brace_end)) else {
        return invalid(bracket_end, "missing colon after array header".into());
    };
    let gap_start = (bracket_end + 1).max(brace_end);
    if colon > gap_start {
        return invalid(gap_start, describe_gap(&content[gap_start..colon], "colon"));
    }
    let key = if bracket_start > 0 {
        let raw = &content[..bracket_start];
        if raw.ends_with([' ', '\t']) {
            return invalid(
                bracket_start - 1,
                "unexpected whitespace between key and bracket segment".into(),
            );
        }
        if raw.starts_with('"') {
            Some(scan::string_literal(raw).map_err(|message| (0, message))?)
        } else {
            Some(Cow::Borrowed(raw))
        }
    } else {
        None
    };
    let after_colon = trim_spaces(&content[colon + 1..]);
    let bracket = match scan::bracket_segment(&content[bracket_start + 1..bracket_end]) {
        Ok(bracket) => bracket,
        Err(reason) => return invalid(bracket_start + 1, reason),
    };
    let mut fields = None;
    if let Some(brace) = brace_start.filter(|&b| b < colon)
        && let Some(matching) = scan::find_matching_brace(content, brace).filter(|&m| m < colon)
    {
        let list = &content[brace + 1..matching];
        if let Some(other) = scan::mismatched_delimiter(list, bracket.delimiter) {
            return invalid(
                brace + 1,
                format!(
                    "header delimiter mismatch: the bracket declares {:?} but the field list contains an unquoted {:?}",
                    bracket.delimiter as char, other as char
                ),
            );
        }
        match scan::field_entries(list, bracket.delimiter) {
            Ok(list) => fields = Some(list),
            Err(reason) => return invalid(brace + 1, reason),
        }
    }
    let duplicate = fields
        .as_deref()
        .and_then(scan::duplicate_field_name)
        .map(|name| format!("duplicate field name {name:?} in field list"));
    if bracket.keyed && fields.is_none() {
        return invalid(bracket_start, "a keyed header requires a field list".into());
    }
    if fields.is_some() && !after_colon.is_empty() {
        let reason = duplicate
            .unwrap_or_else(|| "unexpected content after a header with a field list".into());
        return invalid(colon + 1, reason);
    }
    Ok(HeaderParse::Header {
        header: Header {
            key,
            length: bracket.length,
            delimiter: bracket.delimiter,
            fields,
            field_mode: if duplicate.is_none() { KeyMode::New } else { KeyMode::Replace },
            keyed: bracket.keyed,
            inline: (!after_colon.is_empty()).then_some(after_colon),
        },
        strict_error: duplicate,
    })
}

fn describe_gap(gap: &str, before: &str) -> String {
    let trimmed = gap.trim_matches([' ', '\t']);
    if trimmed.is_empty() {
        format!("unexpected whitespace between bracket segment and {before}")
    } else {
        format!("unexpected content {trimmed:?} between bracket segment and {before}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::encode;
    use super::*;

    fn error(text: &str) -> (u32, u32, Rule) {
        let e = decode(text).expect_err(text);
        assert_eq!(validate(text).as_ref().err(), Some(&e), "validate agrees on {text:?}");
        (e.line, e.column, e.rule)
    }

    #[test]
    fn errors_point_at_the_offending_line_and_column() {
        let cases = [
            ("a: 1\nb[3]: x,y", (2, 1, Rule::Count)),
            ("a: \"x\\qy\"", (1, 6, Rule::String)),
            ("a: \"open", (1, 4, Rule::String)),
            ("a: \"x\"y", (1, 7, Rule::String)),
            ("a:\n   b: 1", (2, 1, Rule::Indentation)),
            ("a:\n\tb: 1", (2, 1, Rule::Indentation)),
            ("a:\n      b: 1", (2, 7, Rule::Indentation)),
            ("a: 1\na: 2", (2, 1, Rule::DuplicateKey)),
            ("t[2]{x,y}:\n  1,2\n  3", (3, 3, Rule::Count)),
            ("t[2]{x,y}:\n  1,2\n\n  3,4", (3, 1, Rule::BlankLine)),
            ("t[2]{x,x}:\n  1,2\n  3,4", (1, 1, Rule::Header)),
            ("t[2:]:\n  a: 1", (1, 2, Rule::Header)),
            ("k[x]: 1", (1, 3, Rule::Header)),
            ("a: 1\nplain\nb: 2", (2, 6, Rule::Structure)),
            ("n: 12345678901234567891", (1, 4, Rule::NumberRange)),
            ("é: \"\\u12\"", (1, 5, Rule::String)),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text:?}");
        }
    }

    #[test]
    fn non_strict_mode_relaxes_counts_keys_and_blank_lines() {
        let options = DecodeOptions { strict: false, indent: 2 };
        for text in
            ["a: 1\nb[3]: x,y", "a: 1\na: 2", "t[1]{x}:\n  1\n\n  2", "n: 12345678901234567891"]
        {
            assert!(decode(text).is_err(), "{text:?}");
            assert!(decode_with(text, &options).is_ok(), "{text:?}");
            assert!(validate_with(text, &options).is_ok(), "{text:?}");
        }
        let duplicate = decode_with("a: 1\nb: 2\na: 3", &options).unwrap();
        assert_eq!(duplicate.as_object().unwrap().keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(duplicate.get("a"), Some(&Value::from(3)));
    }

    #[test]
    fn canonical_check_names_what_the_encoder_would_not_write() {
        let canonical = [
            "a: 1\nb[2]: x,y\nc:\n  d: \"x, y\"",
            "rows[2]{id,name}:\n  1,Ada\n  2,\"Linus, Jr.\"",
            "t[2:]{a,b}:\n  x: 1,2\n  y: 3,4",
            "[2]:\n  - [0]:\n  - [1]: 1",
            "list[2]:\n  - 1\n  - a: 2",
            "e: []\no:",
            "",
            "plain text",
        ];
        for text in canonical {
            assert_eq!(is_canonical(text), Ok(true), "{text:?}");
            assert_eq!(encode(&decode(text).unwrap()), text);
        }
        let not_canonical = [
            "a:  1",
            "a : 1",
            "a: 1 ",
            "# note\na: 1",
            "a: 1\n\nb: 2",
            "a: 1.0",
            "a: -0",
            "a: \"plain\"",
            "a: \"\\u0041\"",
            "\"a\": 1",
            "a[2]: x, y",
            "a[0]:",
            "a[2|]: x|y",
            "list[2]:\n  - 1\n  - 2",
            "a: 1\r\nb: 2",
            "t[1:]{a}:\n  x: 1",
            "[1]:\n  - []",
            "a[2]: x,",
        ];
        for text in not_canonical {
            assert_eq!(is_canonical(text), Ok(false), "{text:?}");
        }
        // Lists of objects and objects of objects might have been tables: not proved.
        assert_eq!(is_canonical("l[2]:\n  - a: 1\n  - b: 2"), Ok(false));
        assert_eq!(is_canonical("o:\n  x:\n    a: 1\n  y:\n    b: 2"), Ok(false));
        assert!(is_canonical("a[3]: 1,2").is_err(), "and it validates");
    }

    #[test]
    fn indent_sizes_other_than_two() {
        let options = DecodeOptions { strict: true, indent: 4 };
        let value = decode_with("a:\n    b:\n        c: 1", &options).unwrap();
        assert_eq!(
            value.get("a").and_then(|a| a.get("b")).and_then(|b| b.get("c")),
            Some(&Value::from(1))
        );
        let three = DecodeOptions { strict: true, indent: 3 };
        assert!(decode_with("a:\n   b: 1", &three).is_ok());
        assert!(decode_with("a:\n    b: 1", &three).is_err());
    }
}
