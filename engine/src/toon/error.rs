//! Decode errors: where (line, column) and which rule of the TOON spec was broken.

use std::fmt;

/// The rule of the TOON specification an input broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// Indentation: tabs, non-multiples of the indent size, over-indented lines (spec §12).
    Indentation,
    /// Strings: quoting and escapes (spec §7).
    String,
    /// Array and keyed headers: `key[N<:><delim>]{fields}:` (spec §6).
    Header,
    /// Declared lengths and row widths must match the data (strict mode, spec §14).
    Count,
    /// Sibling keys must be unique (strict mode).
    DuplicateKey,
    /// Blank lines inside arrays and keyed tables (strict mode).
    BlankLine,
    /// Document structure: keys, colons, list items, the root form (spec §5, §8-10).
    Structure,
    /// An integer literal that no supported number holds exactly (strict mode).
    NumberRange,
}

impl Rule {
    /// Short stable name, as printed in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Indentation => "indentation",
            Rule::String => "string",
            Rule::Header => "header",
            Rule::Count => "count",
            Rule::DuplicateKey => "duplicate-key",
            Rule::BlankLine => "blank-line",
            Rule::Structure => "structure",
            Rule::NumberRange => "number-range",
        }
    }
}

/// TOON text that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// The rule broken.
    pub rule: Rule,
    /// What was found, in words.
    pub message: String,
}

impl fmt::Display for DecodeError {
    /// `line:column: message [rule]`, the form `toonstore toon check` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {} [{}]", self.line, self.column, self.message, self.rule.as_str())
    }
}

impl std::error::Error for DecodeError {}
