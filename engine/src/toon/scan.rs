//! Tokens of one TOON line: quote-aware searches, literals, array headers, field lists.
//!
//! The grammar pieces (number literals, bracket segments, escapes, field lists) are nom
//! parsers. The searches that run on every line (first unquoted `:`, delimiter splits) are
//! `memchr` loops instead, because they are the decoder's hot path; they keep the reference
//! implementation's rules exactly: every `"` toggles "inside quotes", and a backslash escapes
//! the next character only inside quotes.

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::take_while_m_n;
use nom::character::complete::{char, digit1, one_of};
use nom::combinator::{eof, map_res, opt, value, verify};
use nom::{IResult, Parser};

/// The three delimiters a header may declare.
pub(crate) const DELIMITERS: [u8; 3] = [b',', b'\t', b'|'];

/// Index of the first `needle` outside quotes, scanning from `start` (which must not be
/// inside a quoted section).
pub(crate) fn find_unquoted(s: &str, needle: u8, start: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = start;
    loop {
        // Outside quotes only the needle and a quote matter.
        i += memchr::memchr2(needle, b'"', bytes.get(i..)?)?;
        if bytes[i] == needle {
            return Some(i);
        }
        i = skip_quoted(bytes, i + 1)?;
    }
}

/// Index of the first `a` or `b` outside quotes.
pub(crate) fn find_unquoted_either(s: &str, a: u8, b: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    loop {
        i += memchr::memchr3(a, b, b'"', bytes.get(i..)?)?;
        if bytes[i] != b'"' {
            return Some(i);
        }
        i = skip_quoted(bytes, i + 1)?;
    }
}

/// Given the index just past an opening quote, returns the index just past its closing
/// quote, or `None` when the line ends first.
fn skip_quoted(bytes: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
        if bytes[i] == b'"' {
            return Some(i + 1);
        }
        // A trailing lone backslash is an ordinary character, as in the reference.
        i += if i + 1 < bytes.len() { 2 } else { 1 };
    }
}

/// Index of the quote closing the one at `open`, honouring escapes.
pub(crate) fn find_closing_quote(s: &str, open: usize) -> Option<usize> {
    skip_quoted(s.as_bytes(), open + 1).map(|end| end - 1)
}

/// Index of the `}` matching the `{` at `open`, ignoring braces inside quotes.
pub(crate) fn find_matching_brace(s: &str, open: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = skip_quoted(bytes, i + 1)?;
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth = depth.wrapping_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Trims ASCII spaces only: tabs and other whitespace belong to the token.
pub(crate) fn trim_spaces(s: &str) -> &str {
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| b != b' ').map_or(start, |i| i + 1);
    // Spaces are ASCII, so both ends fall on character boundaries.
    &s[start..end]
}

/// Calls `each` with every delimiter-separated value of `input` (spaces trimmed), in order.
/// An empty input has no values.
pub(crate) fn split_values<'a, E>(
    input: &'a str,
    delimiter: u8,
    mut each: impl FnMut(&'a str, usize) -> Result<(), E>,
) -> Result<(), E> {
    if input.is_empty() {
        return Ok(());
    }
    let bytes = input.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        match memchr::memchr2(delimiter, b'"', &bytes[i..]) {
            None => break,
            Some(found) => {
                i += found;
                if bytes[i] == b'"' {
                    match skip_quoted(bytes, i + 1) {
                        Some(end) => i = end,
                        // An unterminated quote runs to the end of the line.
                        None => break,
                    }
                } else {
                    each(trim_spaces(&input[start..i]), start)?;
                    i += 1;
                    start = i;
                }
            }
        }
    }
    each(trim_spaces(&input[start..]), start)
}

/// Shape of a numeric literal: whether it has neither fraction nor exponent.
pub(crate) struct NumericShape {
    pub is_integer_literal: bool,
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, the whole token.
pub(crate) fn numeric_literal_shape(token: &str) -> Option<NumericShape> {
    match token.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => {}
        _ => return None,
    }
    let fraction = (char('.'), digit1);
    let exponent = (one_of("eE"), opt(one_of("+-")), digit1);
    let mut literal = (opt(char('-')), unsigned_integer, opt(fraction), opt(exponent), eof);
    let parsed: IResult<&str, _> = literal.parse(token);
    let (_, (_, _, fraction, exponent, _)) = parsed.ok()?;
    Some(NumericShape { is_integer_literal: fraction.is_none() && exponent.is_none() })
}

/// `0|[1-9][0-9]*`: digits without a leading zero.
fn unsigned_integer(input: &str) -> IResult<&str, &str> {
    verify(digit1, |digits: &str| digits == "0" || !digits.starts_with('0')).parse(input)
}

/// A parsed `[N]`, `[N|]`, `[N:]`, `[N:\t]` bracket segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bracket {
    pub length: usize,
    pub delimiter: u8,
    pub keyed: bool,
}

/// Parses the inside of a bracket segment: length, optional `:` (keyed form), optional
/// delimiter (tab or pipe; comma is the default and never written).
pub(crate) fn bracket_segment(segment: &str) -> Result<Bracket, String> {
    let length = map_res(unsigned_integer, str::parse::<usize>);
    let mut bracket = (length, opt(char(':')), opt(one_of("\t|")), eof);
    let parsed: IResult<&str, _> = bracket.parse(segment);
    match parsed {
        Ok((_, (length, keyed, delimiter, _))) => Ok(Bracket {
            length,
            delimiter: delimiter.map_or(b',', |d| d as u8),
            keyed: keyed.is_some(),
        }),
        Err(_) => Err(format!(
            "invalid array length {segment:?} (expected a non-negative integer without leading zeros)"
        )),
    }
}

/// One entry of a header's field list; `children` is a nested field group (`temp{min,max}`).
#[derive(Clone, Debug)]
pub(crate) struct Field<'a> {
    pub name: Cow<'a, str>,
    pub children: Option<Vec<Field<'a>>>,
}

/// Number of cells a row carries: the leaves of the field tree.
pub(crate) fn count_leaf_fields(fields: &[Field<'_>]) -> usize {
    fields.iter().map(|f| f.children.as_deref().map_or(1, count_leaf_fields)).sum()
}

/// The first name that repeats among siblings, at any level.
pub(crate) fn duplicate_field_name<'f>(fields: &'f [Field<'_>]) -> Option<&'f str> {
    for (i, field) in fields.iter().enumerate() {
        if fields[..i].iter().any(|earlier| earlier.name == field.name) {
            return Some(&field.name);
        }
        if let Some(dup) = field.children.as_deref().and_then(duplicate_field_name) {
            return Some(dup);
        }
    }
    None
}

/// Parses a field list (the inside of `{...}`), descending into nested groups.
pub(crate) fn field_entries(content: &str, delimiter: u8) -> Result<Vec<Field<'_>>, String> {
    let mut fields = Vec::new();
    for entry in split_field_entries(content, delimiter) {
        let entry = trim_spaces(entry);
        if entry.is_empty() {
            return Err("empty field name in field list".into());
        }
        let Some(group_start) = find_unquoted(entry, b'{', 0) else {
            fields.push(Field { name: string_literal(entry)?, children: None });
            continue;
        };
        let name = &entry[..group_start];
        if name.is_empty() {
            return Err("missing field name before nested field group".into());
        }
        if name.ends_with(' ') {
            return Err("unexpected whitespace before nested field group".into());
        }
        let group_end =
            find_matching_brace(entry, group_start).ok_or("unmatched brace in field list")?;
        if group_end != entry.len() - 1 {
            return Err("unexpected content after nested field group".into());
        }
        let children = field_entries(&entry[group_start + 1..group_end], delimiter)?;
        fields.push(Field { name: string_literal(name)?, children: Some(children) });
    }
    Ok(fields)
}

/// Splits a field list on the delimiter at brace depth zero, outside quotes.
fn split_field_entries(content: &str, delimiter: u8) -> Vec<&str> {
    let bytes = content.as_bytes();
    let mut entries = Vec::new();
    let mut depth = 0isize;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => match skip_quoted(bytes, i + 1) {
                Some(end) => {
                    i = end;
                    continue;
                }
                None => break,
            },
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b if b == delimiter && depth == 0 => {
                entries.push(&content[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    entries.push(&content[start..]);
    entries
}

/// The first delimiter other than `active` found outside quotes.
pub(crate) fn mismatched_delimiter(content: &str, active: u8) -> Option<u8> {
    DELIMITERS
        .into_iter()
        .filter(|&d| d != active)
        .find(|&d| find_unquoted(content, d, 0).is_some())
}

/// A key or field name token: quoted (unescaped) or taken as is.
pub(crate) fn string_literal(token: &str) -> Result<Cow<'_, str>, String> {
    let token = trim_spaces(token);
    if !token.starts_with('"') {
        return Ok(Cow::Borrowed(token));
    }
    let close = find_closing_quote(token, 0).ok_or("unterminated string: missing closing quote")?;
    if close != token.len() - 1 {
        return Err("unexpected characters after closing quote".into());
    }
    unescape(&token[1..close]).map_err(|e| e.message)
}

/// A bad escape: byte offset inside the quoted body, and what is wrong.
#[derive(Debug)]
pub(crate) struct EscapeError {
    pub offset: usize,
    pub message: String,
}

/// Resolves the escapes of a quoted body; borrows when there are none.
pub(crate) fn unescape(body: &str) -> Result<Cow<'_, str>, EscapeError> {
    if !body.as_bytes().contains(&b'\\') {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = String::with_capacity(body.len());
    resolve_escapes(body, Some(&mut out))?;
    Ok(Cow::Owned(out))
}

/// Checks every escape of a quoted body without building the string.
pub(crate) fn check_escapes(body: &str) -> Result<(), EscapeError> {
    if !body.as_bytes().contains(&b'\\') {
        return Ok(());
    }
    resolve_escapes(body, None)
}

/// Walks the escapes of `body`, appending the resolved text to `out` when given.
fn resolve_escapes(body: &str, mut out: Option<&mut String>) -> Result<(), EscapeError> {
    let mut rest = body;
    while let Some(slash) = memchr::memchr(b'\\', rest.as_bytes()) {
        if let Some(out) = out.as_deref_mut() {
            out.push_str(&rest[..slash]);
        }
        let offset = body.len() - rest.len() + slash;
        let after = &rest[slash + 1..];
        let parsed: IResult<&str, Option<char>> = escape_sequence(after);
        match parsed {
            Ok((remaining, Some(c))) => {
                if let Some(out) = out.as_deref_mut() {
                    out.push(c);
                }
                rest = remaining;
            }
            Ok((_, None)) => {
                let hex = &after[1..5];
                return Err(EscapeError {
                    offset,
                    message: format!(
                        "invalid escape \\u{hex}: a lone surrogate (supplementary characters must appear as literal UTF-8)"
                    ),
                });
            }
            Err(_) => {
                let message = match after.chars().next() {
                    None => "invalid escape: backslash at end of string".to_owned(),
                    Some('u') => format!(
                        "invalid escape: \\u must be followed by 4 hex digits, got {:?}",
                        after[1..].chars().take(4).collect::<String>()
                    ),
                    Some(c) => format!("invalid escape sequence \\{c}"),
                };
                return Err(EscapeError { offset, message });
            }
        }
    }
    if let Some(out) = out {
        out.push_str(rest);
    }
    Ok(())
}

/// One escape after its backslash: `\n \t \r \\ \"` or `\uXXXX`; `None` for a lone surrogate.
fn escape_sequence(input: &str) -> IResult<&str, Option<char>> {
    let hex4 = map_res(take_while_m_n(4, 4, |c: char| c.is_ascii_hexdigit()), |h: &str| {
        u32::from_str_radix(h, 16)
    });
    alt((
        value(Some('\n'), char('n')),
        value(Some('\t'), char('t')),
        value(Some('\r'), char('r')),
        value(Some('\\'), char('\\')),
        value(Some('"'), char('"')),
        (char('u'), hex4).map(|(_, code)| char::from_u32(code)),
    ))
    .parse(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_search_skips_quoted_sections() {
        assert_eq!(find_unquoted(r#""a:b": c"#, b':', 0), Some(5));
        assert_eq!(find_unquoted(r#""a\":b": c"#, b':', 0), Some(7));
        assert_eq!(find_unquoted(r#"ab"c: d"#, b':', 0), None);
        assert_eq!(find_unquoted("a[2]: x", b'[', 0), Some(1));
    }

    #[test]
    fn values_split_outside_quotes() {
        let mut got = Vec::new();
        split_values::<()>(r#"a, "b,c" ,d,"#, b',', |v, _| {
            got.push(v);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, ["a", r#""b,c""#, "d", ""]);
    }

    #[test]
    fn bracket_segments() {
        let b = bracket_segment("12:|").unwrap();
        assert_eq!((b.length, b.delimiter, b.keyed), (12, b'|', true));
        assert_eq!(bracket_segment("5000").unwrap().length, 5000);
        let b = bracket_segment("0\t").unwrap();
        assert_eq!((b.length, b.delimiter, b.keyed), (0, b'\t', false));
        for bad in ["", "01", "2,", "2|:", "x", "-1"] {
            assert!(bracket_segment(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nested_field_groups() {
        let fields = field_entries("day,temp{min,max},\"a b\"", b',').unwrap();
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[1].children.as_ref().unwrap().len(), 2);
        assert_eq!(fields[2].name, "a b");
        assert_eq!(count_leaf_fields(&fields), 4);
        assert!(field_entries("a,,b", b',').is_err());
        assert!(field_entries("a {b}", b',').is_err());
        assert!(field_entries("a{b}c", b',').is_err());
        assert_eq!(duplicate_field_name(&field_entries("a,b{x,x}", b',').unwrap()), Some("x"));
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r#"a\n\t\r\\\"\u00e9"#).unwrap(), "a\n\t\r\\\"é");
        assert!(unescape(r"\x").is_err());
        assert!(unescape(r"\u12").is_err());
        assert!(unescape(r"\ud800").is_err());
        assert!(unescape("\\").is_err());
        assert_eq!(unescape(r"x\u00").unwrap_err().offset, 1);
    }
}
