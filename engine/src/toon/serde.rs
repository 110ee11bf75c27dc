//! serde bridges: any `Serialize` to TOON, TOON to any `Deserialize`, and conversions
//! between [`Value`] and `serde_json::Value`.
//!
//! Typed data goes through `serde_json::Value` (with `preserve_order`, so member order
//! survives); JSON text is read straight into a [`Value`]. Integers beyond `i64` that no `f64` holds exactly are refused rather than
//! rounded, the same policy as the decoder's.

use std::fmt;

use compact_str::CompactString;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

use super::{DecodeError, Map, Number, Value, decode, encode};

/// A serde bridge failure.
#[derive(Debug)]
#[non_exhaustive]
pub enum SerdeError {
    /// The TOON text did not decode.
    Decode(DecodeError),
    /// serde could not map the data (a type mismatch, a missing field, a non-string map key).
    Data(serde_json::Error),
    /// A number with no exact form here (an integer beyond 64 bits, say).
    Number(String),
}

impl fmt::Display for SerdeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SerdeError::Decode(e) => e.fmt(f),
            SerdeError::Data(e) => e.fmt(f),
            SerdeError::Number(n) => {
                write!(f, "number {n} has no exact form (beyond 64-bit integers)")
            }
        }
    }
}

impl std::error::Error for SerdeError {}

/// Serializes any value to canonical TOON text.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, SerdeError> {
    Ok(encode(&to_value(value)?))
}

/// Serializes any value to a [`Value`].
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, SerdeError> {
    Value::try_from(serde_json::to_value(value).map_err(SerdeError::Data)?)
}

/// Decodes TOON text (strict) into any `Deserialize` type.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, SerdeError> {
    from_value(decode(text).map_err(SerdeError::Decode)?)
}

/// Converts a [`Value`] into any `Deserialize` type.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, SerdeError> {
    serde_json::from_value(serde_json::Value::from(value)).map_err(SerdeError::Data)
}

impl TryFrom<serde_json::Value> for Value {
    type Error = SerdeError;

    fn try_from(json: serde_json::Value) -> Result<Value, SerdeError> {
        Ok(match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(number_from_json(&n)?),
            serde_json::Value::String(s) => Value::String(s.into()),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::try_from).collect::<Result<_, _>>()?)
            }
            serde_json::Value::Object(members) => {
                let mut map = Map::with_capacity(members.len());
                for (key, value) in members {
                    map.insert(key, Value::try_from(value)?);
                }
                Value::Object(map)
            }
        })
    }
}

fn number_from_json(n: &serde_json::Number) -> Result<Number, SerdeError> {
    if let Some(i) = n.as_i64() {
        return Ok(Number::from(i));
    }
    if let Some(u) = n.as_u64() {
        // Beyond i64: only exact as a float when the float says the same digits.
        let float = u as f64;
        if float < 18_446_744_073_709_551_616.0 && float as u64 == u {
            return Number::from_f64(float).ok_or_else(|| SerdeError::Number(n.to_string()));
        }
        return Err(SerdeError::Number(n.to_string()));
    }
    n.as_f64().and_then(Number::from_f64).ok_or_else(|| SerdeError::Number(n.to_string()))
}

impl From<Value> for serde_json::Value {
    fn from(value: Value) -> serde_json::Value {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(n) => serde_json::Value::Number(json_number(n)),
            Value::String(s) => serde_json::Value::String(s.into()),
            Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(Into::into).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            ),
        }
    }
}

fn json_number(n: Number) -> serde_json::Number {
    match n.as_i64() {
        Some(i) if n.is_integer() => i.into(),
        // Finite by construction, so `from_f64` cannot fail.
        _ => serde_json::Number::from_f64(n.as_f64()).unwrap_or_else(|| 0.into()),
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => serializer.collect_seq(items),
            Value::Object(map) => serializer.collect_map(map.iter().map(|(k, v)| (k.as_str(), v))),
        }
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_i64() {
            Some(i) if self.is_integer() => serializer.serialize_i64(i),
            _ => serializer.serialize_f64(self.as_f64()),
        }
    }
}

/// Reads any self-describing data (JSON text, above all) straight into a [`Value`]: no
/// `serde_json::Value` in between, whose ordered map hashes every key with SipHash. Members
/// keep their first place when a key repeats and take the last value, as `JSON.parse` does.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, inner: D) -> Result<Value, D::Error> {
        inner.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Number(Number::from(i)))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        if let Ok(i) = i64::try_from(u) {
            return Ok(Value::Number(Number::from(i)));
        }
        // Beyond i64: only exact as a float when the float says the same digits.
        let float = u as f64;
        match float < 18_446_744_073_709_551_616.0 && float as u64 == u {
            true => Number::from_f64(float).map(Value::Number).ok_or_else(|| inexact(u)),
            false => Err(inexact(u)),
        }
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Number::from_f64(f).map(Value::Number).ok_or_else(|| inexact(f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Value, A::Error> {
        let mut map = Map::with_capacity(members.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = members.next_key_seed(KeySeed)? {
            map.insert(key, members.next_value()?);
        }
        Ok(Value::Object(map))
    }
}

fn inexact<E: de::Error>(n: impl fmt::Display) -> E {
    E::custom(SerdeError::Number(n.to_string()))
}

/// A member's key, made without a heap allocation when it is short (most are).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = CompactString;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<CompactString, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = CompactString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<CompactString, E> {
        Ok(s.into())
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<CompactString, E> {
        Ok(s.into())
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct User {
        id: u32,
        name: String,
        tags: Vec<String>,
        score: Option<f64>,
    }

    #[test]
    fn structs_round_trip_through_toon() {
        let users = vec![
            User { id: 1, name: "Ada".into(), tags: vec!["a".into()], score: Some(1.5) },
            User { id: 2, name: "Linus, Jr.".into(), tags: vec![], score: None },
        ];
        let text = to_string(&users).unwrap();
        assert!(text.starts_with("[2]:\n  - id: 1"), "{text}");
        let back: Vec<User> = from_str(&text).unwrap();
        assert_eq!(back, users);
    }

    #[test]
    fn json_values_convert_both_ways_in_order() {
        let json: serde_json::Value =
            serde_json::from_str(r#"{"z":1,"a":[true,null,2.5,"x"]}"#).unwrap();
        let value = Value::try_from(json.clone()).unwrap();
        assert_eq!(value.as_object().unwrap().keys().collect::<Vec<_>>(), ["z", "a"]);
        assert_eq!(serde_json::Value::from(value), json);
    }

    #[test]
    fn json_text_reads_as_through_serde_json_value() {
        let texts = [
            r#"{"z":1,"a":[true,null,2.5,"x"],"n":{"deep":[{"k":-0.0},-0,1e21,-9223372036854775808]}}"#,
            r#"{"a":1,"b":2,"a":3}"#,
            r#"{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k1":0}"#,
            r#"["\u00e9\"\n", "a long string that does not fit inline in a compact string"]"#,
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "1e400",
            "{\"unclosed\": [1,",
        ];
        for text in texts {
            let direct = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
            let through = serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| e.to_string())
                .and_then(|json| Value::try_from(json).map_err(|e| e.to_string()));
            match (&direct, &through) {
                (Ok(a), Ok(b)) => assert_eq!(encode(a), encode(b), "{text}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{text}: {direct:?} against {through:?}"),
            }
        }
        let repeated: Value = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(encode(&repeated), "a: 3\nb: 2");
        let err = serde_json::from_str::<Value>("18446744073709551615").unwrap_err();
        assert!(err.to_string().contains("no exact form"), "{err}");
    }

    #[test]
    fn inexact_big_integers_are_refused() {
        let json: serde_json::Value = serde_json::from_str("18446744073709551615").unwrap();
        assert!(matches!(Value::try_from(json), Err(SerdeError::Number(_))));
        let exact: serde_json::Value = serde_json::from_str("9223372036854775808").unwrap();
        assert!(Value::try_from(exact).is_ok());
    }
}
