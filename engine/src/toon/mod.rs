//! The TOON codec: a value model, a nom-based decoder and validator, a canonical encoder.
//!
//! TOON (Token-Oriented Object Notation) writes the JSON data model with indentation for
//! nesting and CSV-like tables for uniform records. This codec follows the specification's
//! v4.4 behaviour as the reference implementation (`@toon-format/toon` 4.4) shows it, and
//! its encoder output is byte-identical to the reference's.
//!
//! ```
//! use toonstore::toon::{self, Value};
//!
//! let doc = "users[2]{id,name}:\n  1,Ada\n  2,Linus";
//! let value = toon::decode(doc)?;
//! assert_eq!(value.get("users").and_then(|u| u.as_array()).map(<[Value]>::len), Some(2));
//! assert_eq!(toon::encode(&value), doc);
//! toon::validate(doc)?;
//! # Ok::<(), toon::DecodeError>(())
//! ```

mod decode;
mod encode;
mod error;
mod map;
mod number;
mod proof;
mod scan;
#[cfg(feature = "serde")]
mod serde;
mod value;

pub(crate) use decode::is_canonical_general;
pub use decode::{DecodeOptions, decode, decode_with, is_canonical, validate, validate_with};
pub use encode::{Delimiter, EncodeOptions, encode, encode_with};
pub use error::{DecodeError, Rule};
pub use map::Map;
pub use number::Number;
#[cfg(feature = "serde")]
pub use serde::{SerdeError, from_str, from_value, to_string, to_value};
pub use value::{CompactString, Value};
