//! Values to canonical TOON text.
//!
//! The canonical form is what the reference encoder (`@toon-format/toon` 4.4) prints, byte
//! for byte: each array takes the first form that fits (inline for primitives, list items of
//! inline arrays for arrays of primitive arrays, tabular for uniform objects, list otherwise);
//! an object whose two or more values are uniform non-empty objects becomes a keyed table;
//! uniform nested objects fold into field groups; strings are quoted only when they must be.

use super::{Map, Value};

/// Separator of inline array values and tabular cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Delimiter {
    /// `,` (default; never declared in headers).
    #[default]
    Comma,
    /// A tab, declared as `[N\t]`.
    Tab,
    /// `|`, declared as `[N|]`.
    Pipe,
}

impl Delimiter {
    pub(crate) fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Tab => b'\t',
            Delimiter::Pipe => b'|',
        }
    }
}

/// How to write TOON text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Default: comma.
    pub delimiter: Delimiter,
    /// Spaces per indentation level. Default: 2.
    pub indent: usize,
}

impl Default for EncodeOptions {
    fn default() -> EncodeOptions {
        EncodeOptions { delimiter: Delimiter::Comma, indent: 2 }
    }
}

/// Encodes a value in canonical form (comma, indent 2). Lines end with `\n` except the last.
pub fn encode(value: &Value) -> String {
    encode_with(value, &EncodeOptions::default())
}

/// Encodes a value with options.
pub fn encode_with(value: &Value, options: &EncodeOptions) -> String {
    let mut encoder = Encoder {
        out: String::new(),
        delimiter: options.delimiter.byte(),
        indent: options.indent,
        started: false,
    };
    encoder.root(value);
    encoder.out
}

/// A node of a tabular field list: a leaf column, or a group of uniform nested objects.
struct FieldNode<'v> {
    name: &'v str,
    /// Position of the field in the first row.
    index: usize,
    children: Option<Vec<FieldNode<'v>>>,
}

struct Encoder {
    out: String,
    delimiter: u8,
    indent: usize,
    started: bool,
}

impl Encoder {
    fn root(&mut self, value: &Value) {
        match value {
            Value::Array(items) => self.array(None, items, 0),
            Value::Object(map) => match keyed_table_fields(map) {
                Some(fields) => self.keyed_table(None, map, &fields, 0),
                None => self.members(map, 0),
            },
            // A leading byte-order mark would be taken for one: quote it.
            Value::String(s) if s.starts_with('\u{feff}') => {
                self.line(0);
                self.quoted(s);
            }
            primitive => {
                self.line(0);
                self.primitive(primitive);
            }
        }
    }

    /// Starts a line at `depth`.
    fn line(&mut self, depth: usize) {
        if self.started {
            self.out.push('\n');
        }
        self.started = true;
        for _ in 0..depth * self.indent {
            self.out.push(' ');
        }
    }

    /// Starts a `- ` list item line at `depth`.
    fn item(&mut self, depth: usize) {
        self.line(depth);
        self.out.push_str("- ");
    }

    fn members(&mut self, map: &Map, depth: usize) {
        for (key, value) in map {
            self.member(key, value, depth);
        }
    }

    fn member(&mut self, key: &str, value: &Value, depth: usize) {
        match value {
            Value::Array(items) => self.array(Some(key), items, depth),
            Value::Object(map) => {
                if let Some(fields) = keyed_table_fields(map) {
                    return self.keyed_table(Some(key), map, &fields, depth);
                }
                self.line(depth);
                self.key_and_value(key, value, depth + 1);
            }
            primitive => {
                self.line(depth);
                self.key_and_value(key, primitive, depth + 1);
            }
        }
    }

    /// `key: primitive`, or `key:` with an object's members below at `nested_depth`, on the
    /// line already started.
    fn key_and_value(&mut self, key: &str, value: &Value, nested_depth: usize) {
        self.key(key);
        match value {
            Value::Object(map) => {
                self.out.push(':');
                self.members(map, nested_depth);
            }
            primitive => {
                self.out.push_str(": ");
                self.primitive(primitive);
            }
        }
    }

    fn keyed_table(
        &mut self,
        key: Option<&str>,
        map: &Map,
        fields: &[FieldNode<'_>],
        depth: usize,
    ) {
        self.line(depth);
        self.header(key, map.len(), Some(fields), true);
        self.keyed_rows(map, fields, depth + 1);
    }

    fn keyed_rows(&mut self, map: &Map, fields: &[FieldNode<'_>], depth: usize) {
        for (key, row) in map {
            self.line(depth);
            self.key(key);
            self.out.push_str(": ");
            self.cells(row, fields, &mut true);
        }
    }

    fn array(&mut self, key: Option<&str>, items: &[Value], depth: usize) {
        if items.is_empty() {
            self.line(depth);
            if let Some(key) = key {
                self.key(key);
                self.out.push_str(": ");
            }
            self.out.push_str("[]");
            return;
        }
        if items.iter().all(Value::is_primitive) {
            self.line(depth);
            return self.inline(key, items);
        }
        let all_primitive_arrays = items.iter().all(
            |item| matches!(item, Value::Array(inner) if inner.iter().all(Value::is_primitive)),
        );
        if all_primitive_arrays {
            self.line(depth);
            self.header(key, items.len(), None, false);
            for inner in items {
                self.item(depth + 1);
                self.inline(None, inner.as_array().unwrap_or_default());
            }
            return;
        }
        let rows: Vec<&Value> = items.iter().collect();
        if let Some(fields) = tabular_fields(&rows) {
            self.line(depth);
            self.header(key, items.len(), Some(&fields), false);
            return self.tabular_rows(items, &fields, depth + 1);
        }
        self.line(depth);
        self.header(key, items.len(), None, false);
        for item in items {
            self.list_item(item, depth + 1);
        }
    }

    /// `key[N]: a,b,c` (or `key[0]:`) on the current line.
    fn inline(&mut self, key: Option<&str>, items: &[Value]) {
        self.header(key, items.len(), None, false);
        if items.is_empty() {
            return;
        }
        self.out.push(' ');
        self.joined(items.iter());
    }

    fn tabular_rows(&mut self, rows: &[Value], fields: &[FieldNode<'_>], depth: usize) {
        for row in rows {
            self.line(depth);
            self.cells(row, fields, &mut true);
        }
    }

    /// A row's leaf values in field order, delimiter-separated.
    fn cells(&mut self, row: &Value, fields: &[FieldNode<'_>], first: &mut bool) {
        for field in fields {
            let cell = member(as_map(row), field.index, field.name);
            match &field.children {
                Some(children) => self.cells(cell, children, first),
                None => {
                    if !*first {
                        self.out.push(self.delimiter as char);
                    }
                    *first = false;
                    self.primitive(cell);
                }
            }
        }
    }

    fn joined<'v>(&mut self, items: impl Iterator<Item = &'v Value>) {
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.out.push(self.delimiter as char);
            }
            self.primitive(item);
        }
    }

    fn list_item(&mut self, value: &Value, depth: usize) {
        match value {
            Value::Array(items) if items.iter().all(Value::is_primitive) => {
                self.item(depth);
                self.inline(None, items);
            }
            Value::Array(items) => {
                self.item(depth);
                self.header(None, items.len(), None, false);
                for item in items {
                    self.list_item(item, depth + 1);
                }
            }
            Value::Object(map) => self.object_item(map, depth),
            primitive => {
                self.item(depth);
                self.primitive(primitive);
            }
        }
    }

    /// An object as a list item: its first member shares the `- ` line.
    fn object_item(&mut self, map: &Map, depth: usize) {
        let Some((first_key, first)) = map.first() else {
            self.line(depth);
            self.out.push('-');
            return;
        };
        match first {
            Value::Array(rows) if rows.iter().all(|r| matches!(r, Value::Object(_))) => {
                let row_refs: Vec<&Value> = rows.iter().collect();
                if let Some(fields) = tabular_fields(&row_refs) {
                    self.item(depth);
                    self.header(Some(first_key), rows.len(), Some(&fields), false);
                    self.tabular_rows(rows, &fields, depth + 2);
                    return self.rest_members(map, depth + 1);
                }
                self.first_member_array(first_key, rows, depth);
            }
            Value::Array(items) => self.first_member_array(first_key, items, depth),
            Value::Object(inner) => {
                if let Some(fields) = keyed_table_fields(inner) {
                    self.item(depth);
                    self.header(Some(first_key), inner.len(), Some(&fields), true);
                    self.keyed_rows(inner, &fields, depth + 2);
                    return self.rest_members(map, depth + 1);
                }
                self.item(depth);
                self.key_and_value(first_key, first, depth + 2);
            }
            primitive => {
                self.item(depth);
                self.key_and_value(first_key, primitive, depth + 2);
            }
        }
        self.rest_members(map, depth + 1);
    }

    fn first_member_array(&mut self, key: &str, items: &[Value], depth: usize) {
        self.item(depth);
        if items.is_empty() {
            self.key(key);
            self.out.push_str(": []");
        } else if items.iter().all(Value::is_primitive) {
            self.inline(Some(key), items);
        } else {
            self.header(Some(key), items.len(), None, false);
            for item in items {
                self.list_item(item, depth + 2);
            }
        }
    }

    fn rest_members(&mut self, map: &Map, depth: usize) {
        for (key, value) in map.iter().skip(1) {
            self.member(key, value, depth);
        }
    }

    /// `key[N<:><delim>]{fields}:`
    fn header(
        &mut self,
        key: Option<&str>,
        length: usize,
        fields: Option<&[FieldNode<'_>]>,
        keyed: bool,
    ) {
        if let Some(key) = key {
            self.key(key);
        }
        self.out.push('[');
        self.out.push_str(itoa::Buffer::new().format(length));
        if keyed {
            self.out.push(':');
        }
        if self.delimiter != b',' {
            self.out.push(self.delimiter as char);
        }
        self.out.push(']');
        if let Some(fields) = fields {
            self.field_list(fields);
        }
        self.out.push(':');
    }

    fn field_list(&mut self, fields: &[FieldNode<'_>]) {
        self.out.push('{');
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push(self.delimiter as char);
            }
            self.key(field.name);
            if let Some(children) = &field.children {
                self.field_list(children);
            }
        }
        self.out.push('}');
    }

    fn key(&mut self, key: &str) {
        push_key(&mut self.out, key);
    }

    fn primitive(&mut self, value: &Value) {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Bool(true) => self.out.push_str("true"),
            Value::Bool(false) => self.out.push_str("false"),
            Value::Number(n) => n.write_to(&mut self.out),
            Value::String(s) if is_safe_unquoted(s, self.delimiter) => self.out.push_str(s),
            Value::String(s) => self.quoted(s),
            // Callers only pass primitives.
            Value::Array(_) | Value::Object(_) => self.out.push_str("null"),
        }
    }

    fn quoted(&mut self, s: &str) {
        self.out.push('"');
        escape_into(s, &mut self.out);
        self.out.push('"');
    }
}

/// Writes `s` with `\\ \" \n \r \t` escaped and other control characters as `\u00XX`.
pub(crate) fn escape_into(s: &str, out: &mut String) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: &str = match b {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Writes a key as the encoder does: bare when it can be, quoted otherwise.
pub(crate) fn push_key(out: &mut String, key: &str) {
    if is_bare_key(key) {
        out.push_str(key);
    } else {
        out.push('"');
        escape_into(key, out);
        out.push('"');
    }
}

/// `[A-Za-z_][A-Za-z0-9_.]*`
pub(crate) fn is_bare_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    matches!(bytes.first(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'_'))
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// What each byte forces inside a bare string: [`UNSAFE`] anywhere (control characters and
/// `:"\[]{}`), or [`COMMA`] / [`PIPE`] when that is the delimiter (a tab is a control
/// character already).
const UNSAFE: u8 = 1;
const COMMA: u8 = 2;
const PIPE: u8 = 4;
const QUOTING: [u8; 256] = {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = UNSAFE;
        i += 1;
    }
    let specials = *b":\"\\[]{}";
    let mut j = 0;
    while j < specials.len() {
        table[specials[j] as usize] = UNSAFE;
        j += 1;
    }
    table[b',' as usize] = COMMA;
    table[b'|' as usize] = PIPE;
    table
};

/// Whether a string can be written bare: it would not read back as anything else.
pub(crate) fn is_safe_unquoted(s: &str, delimiter: u8) -> bool {
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if matches!(first, b' ' | b'\t' | b'-' | b'#') || matches!(last, b' ' | b'\t') {
        return false;
    }
    let forbidden = match delimiter {
        b',' => UNSAFE | COMMA,
        b'|' => UNSAFE | PIPE,
        b'\t' => UNSAFE,
        other => return !bytes.contains(&other) && is_safe_unquoted(s, b'\t'),
    };
    // Eight bytes' classes ORed together, without a branch per byte: strings are mostly
    // safe, and most of the time goes to the long ones.
    let forces =
        |part: &[u8]| part.iter().fold(0, |seen, &b| seen | QUOTING[b as usize]) & forbidden != 0;
    let mut chunks = bytes.chunks_exact(8);
    if chunks.any(forces) || forces(chunks.remainder()) {
        return false;
    }
    if matches!(s, "true" | "false" | "null") {
        return false;
    }
    !(matches!(first, b'+' | b'0'..=b'9') && is_numeric_like(s))
}

/// `[+-]?\d+(\.\d+)?([eE][+-]?\d+)?`: strings that look like numbers, leading zeros included.
fn is_numeric_like(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == bytes.len()
}

/// The member `name`, expected at position `index` (rows usually share their key order, and a
/// positional look-up with one string compare beats hashing).
fn member<'v>(map: &'v Map, index: usize, name: &str) -> &'v Value {
    match map.get_index(index) {
        Some((key, value)) if key == name => value,
        _ => map.get(name).unwrap_or(&Value::Null),
    }
}

fn as_map(value: &Value) -> &Map {
    static EMPTY: std::sync::OnceLock<Map> = std::sync::OnceLock::new();
    value.as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// Fields of a keyed table: two or more members, all uniform non-empty objects.
fn keyed_table_fields(map: &Map) -> Option<Vec<FieldNode<'_>>> {
    if map.len() < 2 {
        return None;
    }
    let rows: Vec<&Value> = map.values().collect();
    tabular_fields(&rows)
}

/// The field list when every row is an object with the same keys and each column is all
/// primitives or all uniform non-empty objects (a nested field group).
fn tabular_fields<'v>(rows: &[&'v Value]) -> Option<Vec<FieldNode<'v>>> {
    let Value::Object(first) = rows.first()? else { return None };
    if first.is_empty() {
        return None;
    }
    for row in rows {
        let Value::Object(map) = row else { return None };
        let same_order = || map.keys().zip(first.keys()).all(|(a, b)| a == b);
        if map.len() != first.len() || !(same_order() || first.keys().all(|k| map.contains_key(k)))
        {
            return None;
        }
    }
    first
        .keys()
        .enumerate()
        .map(|(index, name)| {
            let cell = |row: &&'v Value| member(as_map(row), index, name);
            if rows.iter().all(|row| cell(row).is_primitive()) {
                return Some(FieldNode { name, index, children: None });
            }
            let column: Vec<&Value> = rows.iter().map(cell).collect();
            if !column.iter().all(|v| matches!(v, Value::Object(m) if !m.is_empty())) {
                return None;
            }
            Some(FieldNode { name, index, children: Some(tabular_fields(&column)?) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::is_safe_unquoted;

    /// Every byte that forces quoting, at every position of strings long enough to cross
    /// the eight-byte chunks, under each delimiter.
    #[test]
    fn any_forcing_byte_anywhere_forces_quotes() {
        for len in 1..=19 {
            for at in 0..len {
                for delimiter in [b',', b'|', b'\t'] {
                    for byte in 0..=255u8 {
                        if !byte.is_ascii() {
                            continue;
                        }
                        let mut text = vec![b'a'; len];
                        text[at] = byte;
                        let text = std::str::from_utf8(&text).unwrap();
                        let forcing =
                            byte < 0x20 || b":\"\\[]{}".contains(&byte) || byte == delimiter;
                        let edge = (at == 0 && b" -#".contains(&byte))
                            || ((at == 0 || at == len - 1) && byte == b' ')
                            || (len == 1 && byte.is_ascii_digit());
                        let expected = !(forcing || edge);
                        assert_eq!(
                            is_safe_unquoted(text, delimiter),
                            expected,
                            "{text:?} with delimiter {delimiter:?}"
                        );
                    }
                }
            }
        }
    }
}
