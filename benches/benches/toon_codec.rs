//! The TOON codec against serde_toon 0.3.0 (the fastest conformant Rust crate), toon-format
//! 0.7 (the official one) and serde_json on the same data as JSON, in one run.
//!
//! `cargo bench -p toonstore-benches --bench toon_codec`; `benches/run.sh codec` also writes
//! the table into BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use toonstore::toon::{self, Value};
use toonstore_benches::workloads;

fn bench_document(c: &mut Criterion, group_name: &str, json: serde_json::Value) {
    let ours_value = Value::try_from(json.clone()).unwrap();
    let toon_text = toon::encode(&ours_value);
    let json_text = serde_json::to_string(&json).unwrap();
    let serde_toon_value: serde_toon::Value = serde_toon::from_str(&toon_text).unwrap();

    // Same bytes for everyone, or the comparison means nothing.
    assert_eq!(
        serde_toon::to_string(&serde_toon_value).unwrap(),
        toon_text,
        "serde_toon writes other text"
    );
    assert_eq!(
        toon_format::encode_default(&json).unwrap(),
        toon_text,
        "toon-format writes other text"
    );
    let decoded: serde_json::Value = toon_format::decode_default(&toon_text).unwrap();
    assert_eq!(Value::try_from(decoded).unwrap(), ours_value, "toon-format reads other data");

    // The texts, for the TypeScript reference's timing in node (benches/run.sh).
    let data_dir = toonstore_benches::report::bench_data_dir();
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(data_dir.join(format!("{group_name}.toon")), &toon_text).unwrap();
    std::fs::write(data_dir.join(format!("{group_name}.json")), &json_text).unwrap();

    let mut group = c.benchmark_group(group_name);
    group.sample_size(30);
    group.throughput(Throughput::Bytes(toon_text.len() as u64));
    group.bench_function("decode/toonstore", |b| {
        b.iter(|| toon::decode(black_box(&toon_text)).unwrap())
    });
    group.bench_function("validate/toonstore", |b| {
        b.iter(|| toon::validate(black_box(&toon_text)).unwrap())
    });
    group.bench_function("decode/serde_toon", |b| {
        b.iter(|| serde_toon::from_str::<serde_toon::Value>(black_box(&toon_text)).unwrap())
    });
    group.bench_function("decode/toon_format", |b| {
        b.iter(|| toon_format::decode_default::<serde_json::Value>(black_box(&toon_text)).unwrap())
    });
    group.bench_function("encode/toonstore", |b| b.iter(|| toon::encode(black_box(&ours_value))));
    group.bench_function("encode/serde_toon", |b| {
        b.iter(|| serde_toon::to_string(black_box(&serde_toon_value)).unwrap())
    });
    group.bench_function("encode/toon_format", |b| {
        b.iter(|| toon_format::encode_default(black_box(&json)).unwrap())
    });
    group.throughput(Throughput::Bytes(json_text.len() as u64));
    group.bench_function("decode/serde_json", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&json_text)).unwrap())
    });
    group.bench_function("encode/serde_json", |b| {
        b.iter(|| serde_json::to_string(black_box(&json)).unwrap())
    });
    group.finish();
}

/// The documents a store holds: 1,000 of about 1 KB (the engine benchmarks' generator),
/// validated, proved canonical (what a put does) and decoded one by one.
fn bench_small_documents(c: &mut Criterion) {
    let docs: Vec<String> = (0..1000).map(workloads::document_1k).collect();
    let bytes: usize = docs.iter().map(String::len).sum();
    let mut group = c.benchmark_group("codec-1k");
    group.sample_size(30);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("validate/toonstore", |b| {
        b.iter(|| docs.iter().for_each(|d| toon::validate(black_box(d)).unwrap()))
    });
    group.bench_function("canonical/toonstore", |b| {
        b.iter(|| docs.iter().for_each(|d| assert!(toon::is_canonical(black_box(d)).unwrap())))
    });
    group.bench_function("decode/toonstore", |b| {
        b.iter(|| docs.iter().for_each(|d| drop(toon::decode(black_box(d)).unwrap())))
    });
    group.bench_function("decode/serde_toon", |b| {
        b.iter(|| {
            docs.iter().for_each(|d| drop(serde_toon::from_str::<serde_toon::Value>(d).unwrap()))
        })
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_document(c, "codec-tabular", workloads::tabular());
    bench_document(c, "codec-nested", workloads::nested());
    bench_small_documents(c);
}

criterion_group!(benches, codec);
criterion_main!(benches);
