//! Decodes the tabular and nested workloads in a loop, for profilers.
fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "tabular".into());
    let mode = std::env::args().nth(2).unwrap_or_else(|| "decode".into());
    let json = if which == "nested" {
        toonstore_benches::workloads::nested()
    } else {
        toonstore_benches::workloads::tabular()
    };
    let text = toonstore::toon::encode(&toonstore::toon::Value::try_from(json).unwrap());
    for _ in 0..300 {
        match mode.as_str() {
            "validate" => toonstore::toon::validate(std::hint::black_box(&text)).unwrap(),
            _ => drop(std::hint::black_box(toonstore::toon::decode(&text).unwrap())),
        }
    }
}
