//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod generate;

use toonstore::toon::Value;

/// Equality that also requires the same member order, as the TOON text has it.
pub fn same_in_order(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_in_order(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|((ka, va), (kb, vb))| ka == kb && same_in_order(va, vb))
        }
        _ => a == b,
    }
}

/// A JSON value (as the fixtures and oracles write them) as a TOON value; numbers that are
/// not `i64` are taken as the nearest `f64`, as JavaScript holds them.
pub fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().expect("JSON numbers are finite")),
        },
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(members) => {
            members.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()
        }
        other => Value::try_from(other.clone()).expect("primitives convert"),
    }
}

/// `../shared/<name>` beside the checkout, when it exists.
pub fn shared_dir(name: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(name);
    dir.is_dir().then_some(dir)
}
