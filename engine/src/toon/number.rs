//! Numbers of the JSON data model: exact integers beside finite floats.
//!
//! Policy (documented in `docs/TOON.md`):
//! - Integer literals that fit `i64` are kept exactly, beyond JavaScript's 2^53.
//! - Other literals become the nearest `f64`; a float whose value is an integer of at most
//!   2^53 in magnitude becomes an integer (`2.5e2` is `250`), `-0` is `0`, as in the reference.
//! - An integer literal outside `i64` is a float when it is that float's exact value or its
//!   canonical text (`9847693055559250000`, as JavaScript prints the float). Any other would
//!   be silently rounded: strict decoding refuses it (quote it to keep it as text); non-strict
//!   decoding rounds it to the nearest `f64`, as the reference implementation does.
//! - Canonical text is JavaScript's `Number#toString` (`1e+21`, `1.5e-7`, shortest digits),
//!   except that integers beyond 2^53 print all their digits.
//! - Two numbers are equal when their canonical text is, since that text is what is stored.

use std::fmt;

/// 2^53: integers up to this magnitude are exact in an `f64`.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A finite JSON number: an exact `i64`, or an `f64`.
///
/// Two numbers are equal when their canonical text is equal (`Number::from(2)` equals
/// `Number::from_f64(2.0)`), because the data model has one number type.
#[derive(Clone, Copy, Debug)]
pub struct Number(Repr);

#[derive(Clone, Copy, Debug)]
enum Repr {
    Int(i64),
    /// Always finite and never `-0.0`.
    Float(f64),
}

impl Number {
    /// A float, or `None` for NaN and infinities (JSON has neither). `-0.0` becomes `0`.
    pub fn from_f64(value: f64) -> Option<Number> {
        if !value.is_finite() {
            return None;
        }
        if value == 0.0 {
            return Some(Number(Repr::Int(0)));
        }
        Some(Number(Repr::Float(value)))
    }

    /// The value as an `i64` when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            Repr::Int(i) => Some(i),
            Repr::Float(f) if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63) => {
                Some(f as i64)
            }
            Repr::Float(_) => None,
        }
    }

    /// The value as an `f64` (rounded for integers beyond 2^53).
    pub fn as_f64(&self) -> f64 {
        match self.0 {
            Repr::Int(i) => i as f64,
            Repr::Float(f) => f,
        }
    }

    /// True when the number is held as an exact integer.
    pub fn is_integer(&self) -> bool {
        matches!(self.0, Repr::Int(_))
    }

    /// Appends the canonical text (JavaScript's `Number#toString` for floats).
    pub fn write_to(&self, out: &mut String) {
        self.with_text(|text| out.push_str(text));
    }

    /// Whether `text` is exactly this number's canonical spelling (no allocation).
    pub(crate) fn is_spelled(&self, text: &str) -> bool {
        self.with_text(|canonical| canonical == text)
    }

    /// Calls `f` with the canonical text, formatted on the stack.
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self.0 {
            Repr::Int(i) => f(itoa::Buffer::new().format(i)),
            Repr::Float(x) => f(ryu_js::Buffer::new().format_finite(x)),
        }
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        Number(Repr::Int(value))
    }
}

macro_rules! from_small_int {
    ($($t:ty)*) => {$(
        impl From<$t> for Number {
            fn from(value: $t) -> Number {
                Number(Repr::Int(i64::from(value)))
            }
        }
    )*};
}
from_small_int!(i8 i16 i32 u8 u16 u32);

/// Numbers are equal when their canonical text is: `2` equals `2.0`, and the float
/// 2.4561120419899706e17 equals the integer 245611204198997060, which is how it prints (and
/// what it reads back as). Distinct texts are distinct numbers.
impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self.0, other.0) {
            (Repr::Int(a), Repr::Int(b)) => a == b,
            (Repr::Float(a), Repr::Float(b)) => a == b,
            (Repr::Int(i), Repr::Float(f)) | (Repr::Float(f), Repr::Int(i)) => {
                int_equals_float(i, f)
            }
        }
    }
}

fn int_equals_float(int: i64, float: f64) -> bool {
    if float.fract() != 0.0 || float.abs() >= 1e21 {
        // Fractions, and floats printed with an exponent, never print as integers.
        return false;
    }
    if float.abs() <= MAX_SAFE_INTEGER {
        return int as f64 == float;
    }
    itoa::Buffer::new().format(int) == ryu_js::Buffer::new().format_finite(float)
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_text(|text| f.write_str(text))
    }
}

/// What an unquoted token turned out to be.
#[derive(Debug, PartialEq)]
pub(crate) enum NumericToken {
    /// Not a numeric literal: the token is a string.
    NotNumber,
    Number(Number),
    /// An integer literal outside `i64` that no `f64` holds exactly; carries the nearest float.
    InexactInteger(f64),
}

/// Classifies an unquoted token per the TOON number grammar
/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; literals that overflow to infinity are strings.
pub(crate) fn parse_numeric_token(token: &str) -> NumericToken {
    let Some(shape) = super::scan::numeric_literal_shape(token) else {
        return NumericToken::NotNumber;
    };
    if shape.is_integer_literal {
        if let Ok(i) = token.parse::<i64>() {
            // `-0` is `0`, as in the reference.
            return NumericToken::Number(Number(Repr::Int(i)));
        }
        let nearest: f64 = token.parse().unwrap_or(f64::INFINITY);
        if !nearest.is_finite() {
            return NumericToken::NotNumber;
        }
        // Not rounding when the literal is the float's exact value or its canonical text
        // (`1e20` prints as `100000000000000000000`).
        let digits = token.trim_start_matches('-');
        let canonical = ryu_js::Buffer::new().format_finite(nearest.abs()).to_owned();
        if canonical == digits || format!("{:.0}", nearest.abs()) == digits {
            return NumericToken::Number(Number(Repr::Float(nearest)));
        }
        return NumericToken::InexactInteger(nearest);
    }
    let value: f64 = match token.parse() {
        Ok(v) => v,
        Err(_) => return NumericToken::NotNumber,
    };
    if !value.is_finite() {
        return NumericToken::NotNumber;
    }
    NumericToken::Number(normalize_float(value))
}

/// Whether `token` is a number the encoder writes exactly so, told from its digits alone:
/// `0` or `-?[1-9][0-9]*`, then optionally a fraction not ending in `0`, 15 digits at most,
/// and not below 1e-6 (JavaScript writes smaller numbers with an exponent). Up to 15
/// digits, no shorter decimal names the same `f64`, so these are the shortest spelling.
/// False means "cannot tell": parse and format.
pub(crate) fn is_plainly_canonical(token: &str) -> bool {
    let digits = token.strip_prefix('-').unwrap_or(token).as_bytes();
    let int_len = digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    let (int, rest) = digits.split_at(int_len);
    let int_ok = match int {
        [b'0'] => !(token.starts_with('-') && rest.is_empty()), // `0`, `0.x`, `-0.x`; not `-0`
        [first, ..] => *first != b'0',
        [] => false,
    };
    if !int_ok || int_len > 15 {
        return false;
    }
    let Some(fraction) = rest.strip_prefix(b".") else { return rest.is_empty() };
    let leading_zeros = fraction.iter().take_while(|&&b| b == b'0').count();
    !fraction.is_empty()
        && fraction.iter().all(u8::is_ascii_digit)
        && fraction.last() != Some(&b'0')
        && int_len + fraction.len() <= 15
        && (int != b"0" || leading_zeros <= 5)
}

/// A float whose value is a small integer is held as one, so decoded values compare and
/// convert the way JavaScript sees them.
fn normalize_float(value: f64) -> Number {
    if value.fract() == 0.0 && value.abs() <= MAX_SAFE_INTEGER {
        Number(Repr::Int(value as i64))
    } else {
        Number(Repr::Float(value))
    }
}

/// The nearest float, as a number (non-strict decoding of inexact integers).
pub(crate) fn rounded(value: f64) -> Number {
    normalize_float(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plainly_canonical_numbers_are_what_the_encoder_writes() {
        let spelled_back = |token: &str| match parse_numeric_token(token) {
            NumericToken::Number(n) => n.is_spelled(token),
            _ => false,
        };
        let mut rng = fastrand::Rng::with_seed(11);
        let (mut proven, mut canonical) = (0, 0);
        for _ in 0..200_000 {
            let mut token = String::new();
            if rng.bool() {
                token.push('-');
            }
            for _ in 0..rng.usize(1..18) {
                token.push(char::from(b"0123456789.."[rng.usize(..12)]));
            }
            let plain = is_plainly_canonical(&token);
            assert!(!plain || spelled_back(&token), "{token} is not canonical");
            proven += usize::from(plain);
            canonical += usize::from(spelled_back(&token));
        }
        for token in ["0", "-0.5", "0.000001", "123456789012345", "1.5"] {
            assert!(is_plainly_canonical(token), "{token}");
        }
        for token in ["-0", "0.0000001", "1.50", "01", "1234567890123456", "1e5", "1."] {
            assert!(!is_plainly_canonical(token), "{token}");
        }
        // The shortcut should decide most canonical numbers by itself.
        assert!(proven * 10 >= canonical * 9, "{proven} of {canonical} proven");
    }

    fn text(n: Number) -> String {
        n.to_string()
    }

    #[test]
    fn floats_print_as_javascript_does() {
        let cases = [
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (1e-6, "0.000001"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-3.25, "-3.25"),
            (2.0, "2"),
        ];
        for (value, expected) in cases {
            assert_eq!(text(Number::from_f64(value).unwrap()), expected, "{value:e}");
        }
        assert_eq!(Number::from_f64(f64::NAN), None);
        assert_eq!(Number::from_f64(f64::INFINITY), None);
        assert!(Number::from_f64(-0.0).unwrap().is_integer());
    }

    #[test]
    fn integers_keep_every_digit() {
        assert_eq!(text(Number::from(i64::MAX)), "9223372036854775807");
        assert_eq!(text(Number::from(-9_007_199_254_740_993_i64)), "-9007199254740993");
    }

    #[test]
    fn equality_is_by_canonical_text() {
        assert_eq!(Number::from(2), Number::from_f64(2.0).unwrap());
        assert_ne!(Number::from(2), Number::from_f64(2.5).unwrap());
        assert_ne!(Number::from(i64::MAX), Number::from_f64(2f64.powi(63)).unwrap());
        let float = Number::from_f64(2.4561120419899706e17).unwrap();
        assert_eq!(Number::from(245_611_204_198_997_060_i64), float);
        assert_ne!(Number::from(245_611_204_198_997_056_i64), float);
    }

    #[test]
    fn tokens_classify_like_the_reference() {
        use NumericToken::*;
        let num = |t: &str| match parse_numeric_token(t) {
            Number(n) => Some(n),
            _ => None,
        };
        assert_eq!(num("42"), Some(super::Number::from(42)));
        assert_eq!(num("-0"), Some(super::Number::from(0)));
        assert_eq!(num("-0.0"), Some(super::Number::from(0)));
        assert_eq!(num("2.5e2"), Some(super::Number::from(250)));
        assert!(num("2.5e2").unwrap().is_integer());
        assert_eq!(num("1E-3"), super::Number::from_f64(0.001));
        for not_numbers in ["05", "-05", ".5", "1.", "+1", "1e", "0x10", "1_000", "1e400", "", "-"]
        {
            assert_eq!(parse_numeric_token(not_numbers), NotNumber, "{not_numbers}");
        }
        assert_eq!(num("100000000000000000000"), super::Number::from_f64(1e20));
        assert!(matches!(parse_numeric_token("12345678901234567891"), InexactInteger(_)));
        // A float's canonical text reads back as that float.
        let float = super::Number::from_f64(9.84769305555925e18).unwrap();
        assert_eq!(num(&float.to_string()), Some(float));
        assert_eq!(text(num("9007199254740993").unwrap()), "9007199254740993");
    }
}
