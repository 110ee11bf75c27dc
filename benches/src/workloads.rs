//! Deterministic documents for the codec benchmarks.
//!
//! Both stay within the forms TOON v4.1 and v4.4 write alike (no keyed tables, no nested
//! field groups), so every TOON implementation produces the same text from them and each
//! is timed on identical bytes.

use serde_json::{Value, json};

const FIRST: &[&str] = &["Ada", "Linus", "Grace", "Ken", "Barbara", "Dennis", "Margaret", "Alan"];
const LAST: &[&str] = &["Lovelace", "Torvalds", "Hopper", "Thompson", "Liskov", "Ritchie"];
const DEPARTMENTS: &[&str] = &["Engineering", "Sales", "Support", "Research", "Operations"];
const WORDS: &[&str] = &[
    "storage",
    "engine",
    "reliable",
    "fast",
    "documents",
    "token",
    "oriented",
    "notation",
    "compact",
    "durable",
    "crash-safe",
    "index",
    "cache",
    "segment",
    "manifest",
    "browser",
];

fn sentence(rng: &mut fastrand::Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            // Now and then a comma, so some cells need quotes.
            s.push_str(if rng.u8(0..12) == 0 { ", " } else { " " });
        }
        s.push_str(WORDS[rng.usize(..WORDS.len())]);
    }
    s
}

/// About 1 MB of TOON: 5,000 uniform records of 6 fields, one tabular block.
pub fn tabular() -> Value {
    let mut rng = fastrand::Rng::with_seed(1);
    let rows: Vec<Value> = (0..5000)
        .map(|id| {
            let first = FIRST[rng.usize(..FIRST.len())];
            let last = LAST[rng.usize(..LAST.len())];
            json!({
                "id": id,
                "name": format!("{first} {last}"),
                "email": format!("{}.{}{id}@example.com", first.to_lowercase(), last.to_lowercase()),
                "department": DEPARTMENTS[rng.usize(..DEPARTMENTS.len())],
                "salary": (rng.u32(3_000_000..25_000_000) as f64) / 100.0,
                "bio": sentence(&mut rng, 15),
            })
        })
        .collect();
    json!({ "employees": rows })
}

/// About 0.8 MB of TOON: orders with nested objects, inline arrays and non-uniform item
/// lists (list form).
pub fn nested() -> Value {
    let mut rng = fastrand::Rng::with_seed(2);
    let orders: Vec<Value> = (0..1650)
        .map(|id| {
            let items: Vec<Value> = (0..rng.usize(1..5))
                .map(|n| {
                    let mut item = json!({
                        "sku": format!("SKU-{:05}", rng.u32(..100_000)),
                        "qty": rng.u8(1..10),
                        "price": (rng.u32(100..100_000) as f64) / 100.0,
                    });
                    if n % 2 == 1 {
                        item["gift"] = json!(true);
                    }
                    if rng.u8(0..3) == 0 {
                        item["note"] = json!(sentence(&mut rng, 5));
                    }
                    item
                })
                .collect();
            let status = ["new", "paid", "shipped", "returned"][rng.usize(..4)];
            let city = ["Berlin", "Paris", "Lisbon", "Oslo"][rng.usize(..4)];
            let mut order = json!({
                "id": id,
                "status": status,
                "customer": {
                    "name": format!("{} {}", FIRST[rng.usize(..FIRST.len())], LAST[rng.usize(..LAST.len())]),
                    "vip": rng.bool(),
                    "address": {
                        "street": format!("{} {} Street", rng.u16(1..999), WORDS[rng.usize(..WORDS.len())]),
                        "city": city,
                        "zip": format!("{:05}", rng.u32(..99_999)),
                    },
                },
                "items": items,
                "tags": (0..rng.usize(0..4)).map(|_| WORDS[rng.usize(..WORDS.len())]).collect::<Vec<_>>(),
            });
            if rng.u8(0..2) == 0 {
                order["comment"] = json!(sentence(&mut rng, 12));
            }
            order
        })
        .collect();
    json!({ "store": "ToonStore demo shop", "currency": "EUR", "orders": orders })
}

/// A TOON document of about 1 KB for key `i`: fields, an inline array and a small table, as
/// a store holds them (canonical text).
pub fn document_1k(i: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(i);
    let events: Vec<Value> = (0..8)
        .map(|n| {
            json!({
                "at": format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + n, rng.u8(..24), rng.u8(..60)),
                "kind": WORDS[rng.usize(..WORDS.len())],
                "count": rng.u32(..10_000),
                "ok": rng.bool(),
            })
        })
        .collect();
    let value = json!({
        "id": i,
        "name": format!("{} {}", FIRST[rng.usize(..FIRST.len())], LAST[rng.usize(..LAST.len())]),
        "email": format!("user{i}@example.com"),
        "department": DEPARTMENTS[rng.usize(..DEPARTMENTS.len())],
        "score": (rng.u32(..1_000_000) as f64) / 1000.0,
        "tags": (0..4).map(|_| WORDS[rng.usize(..WORDS.len())]).collect::<Vec<_>>(),
        "bio": sentence(&mut rng, 40),
        "events": events,
    });
    toonstore::toon::encode(&toonstore::toon::Value::try_from(value).expect("plain numbers"))
}

/// Key `i` of the engine benchmarks.
pub fn key(i: u64) -> String {
    format!("key{i:08}")
}
