//! Validates, proves canonical and decodes 100k 1 KB documents, for profilers.
use toonstore_benches::workloads::document_1k;

fn main() {
    let docs: Vec<String> = (0..100_000).map(document_1k).collect();
    let per_doc = |name: &str, f: &dyn Fn(&str) -> bool| {
        let start = std::time::Instant::now();
        let ok = docs.iter().filter(|d| f(d)).count();
        eprintln!("{name}: {:?} per document ({ok} ok)", start.elapsed() / docs.len() as u32);
    };
    // One of `validate`, `canonical`, `decode` as the argument runs only that, ten times.
    let only = std::env::args().nth(1);
    let runs = |name: &str| only.as_deref().is_none_or(|o| o == name);
    for _ in 0..if only.is_some() { 10 } else { 3 } {
        if runs("validate") {
            per_doc("validate", &|d| toonstore::toon::validate(d).is_ok());
        }
        if runs("canonical") {
            per_doc("is_canonical", &|d| toonstore::toon::is_canonical(d).unwrap());
        }
        if runs("decode") {
            per_doc("decode", &|d| toonstore::toon::decode(d).is_ok());
        }
    }
}
