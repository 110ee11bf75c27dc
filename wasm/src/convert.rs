//! JavaScript values to TOON values and back, through js-sys (no JSON text in between).
//!
//! What cannot survive the trip, documented for users of the npm package:
//! - key order: JavaScript lists integer-like keys (`"2"`, `"10"`) first, in numeric order,
//!   whatever order the document has; other keys keep theirs;
//! - `undefined`, functions, symbols and BigInts are not JSON: they are refused (in arrays
//!   and objects too), as are cycles; `NaN` and infinities become `null`, as in JSON;
//! - a key `__proto__` comes back as an own property: it is defined, never assigned, so it
//!   cannot change the object's prototype.

use js_sys::{Array, Object, Reflect};
use toonstore::toon::{Map, Number, Value};
use wasm_bindgen::{JsCast, JsValue};

/// Deeper than this is taken as a cycle (and is far past what a 1 MiB document holds).
const MAX_DEPTH: usize = 512;

/// The TOON value of a JavaScript value; an error message for what JSON cannot hold.
pub fn to_value(js: &JsValue) -> Result<Value, String> {
    to_value_at(js, 0)
}

fn to_value_at(js: &JsValue, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels (a cycle?)"));
    }
    if js.is_null() {
        return Ok(Value::Null);
    }
    if let Some(b) = js.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = js.as_f64() {
        return Ok(Number::from_f64(n).map_or(Value::Null, Value::Number));
    }
    if let Some(s) = js.as_string() {
        return Ok(Value::String(s.into()));
    }
    if let Some(array) = js.dyn_ref::<Array>() {
        let mut items = Vec::with_capacity(array.length() as usize);
        for item in array.iter() {
            items.push(to_value_at(&item, depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if js.is_undefined() {
        return Err("undefined is not a JSON value".into());
    }
    if js.is_function() || js.is_symbol() || js.is_bigint() {
        return Err(format!(
            "{} is not a JSON value",
            js.js_typeof().as_string().unwrap_or_default()
        ));
    }
    let object: &Object = js.unchecked_ref();
    let keys = Object::keys(object);
    let mut map = Map::with_capacity(keys.length() as usize);
    for key in keys.iter() {
        let name = key.as_string().unwrap_or_default();
        let member =
            Reflect::get(object, &key).map_err(|_| format!("cannot read member {name:?}"))?;
        let value = to_value_at(&member, depth + 1).map_err(|e| format!("{name}: {e}"))?;
        map.insert(name, value);
    }
    Ok(Value::Object(map))
}

/// The JavaScript value of a TOON value: plain objects and arrays.
pub fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => JsValue::from_f64(n.as_f64()),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(items) => items.iter().map(to_js).collect::<Array>().into(),
        Value::Object(map) => {
            let object = Object::new();
            for (key, member) in map.iter() {
                let member = to_js(member);
                if key == "__proto__" {
                    define(&object, key, &member);
                } else {
                    // Plain data objects: setting cannot fail or reach a setter.
                    let _ = Reflect::set(&object, &JsValue::from_str(key), &member);
                }
            }
            object.into()
        }
    }
}

/// Defines an own, enumerable, writable data property (never a prototype change).
fn define(object: &Object, key: &str, value: &JsValue) {
    let descriptor = Object::new();
    let _ = Reflect::set(&descriptor, &"value".into(), value);
    for flag in ["writable", "enumerable", "configurable"] {
        let _ = Reflect::set(&descriptor, &flag.into(), &JsValue::TRUE);
    }
    Object::define_property(object, &JsValue::from_str(key), &descriptor);
}
