//! Validates, proves canonical and decodes 100k 1 KB documents, for profilers.
use toonstore_benches::workloads::document_1k;

fn main() {
    let docs: Vec<String> = (0..100_000).map(document_1k).collect();
    let per_doc = |name: &str, f: &dyn Fn(&str) -> bool| {
        let start = std::time::Instant::now();
        let ok = docs.iter().filter(|d| f(d)).count();
        eprintln!("{name}: {:?} per document ({ok} ok)", start.elapsed() / docs.len() as u32);
    };
    for _ in 0..3 {
        per_doc("validate", &|d| toonstore::toon::validate(d).is_ok());
        per_doc("is_canonical", &|d| toonstore::toon::is_canonical(d).unwrap());
        per_doc("decode", &|d| toonstore::toon::decode(d).is_ok());
    }
}
