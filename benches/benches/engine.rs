//! The storage engine against fjall 3, redb, SQLite (rusqlite, bundled; WAL,
//! synchronous=NORMAL, 8 KiB pages) and a plain append-file + HashMap baseline, on one
//! workload in one run: 1 KB TOON documents, 100,000 keys.
//!
//! `cargo bench -p toonstore-benches --bench engine`; `benches/run.sh engine` also writes
//! the table into BENCHMARKS.md. Each sample runs the whole workload once on a fresh
//! store in a temporary directory (set-up not timed); throughput is operations per second.

use std::collections::HashMap;
use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use redb::ReadableDatabase;
use toonstore::store::{Durability, Options, Store};
use toonstore_benches::workloads::{document_1k, key};

const KEYS: u64 = 100_000;
const DURABLE_PUTS: u64 = 1_000;

struct Data {
    keys: Vec<String>,
    docs: Vec<String>,
    /// A fixed random order of key indexes for reads.
    order: Vec<usize>,
}

fn data() -> Data {
    let keys: Vec<String> = (0..KEYS).map(key).collect();
    let docs: Vec<String> = (0..KEYS).map(document_1k).collect();
    let mut order: Vec<usize> = (0..KEYS as usize).collect();
    fastrand::Rng::with_seed(7).shuffle(&mut order);
    Data { keys, docs, order }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("toonstore-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `run` once per sample on a fresh directory; only `run`'s returned time counts.
fn sample(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut run: impl FnMut(&Path) -> Duration,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let dir = temp_dir(name);
                    let took = run(&dir);
                    std::fs::remove_dir_all(&dir).ok();
                    took
                })
                .sum()
        })
    });
}

/// Times `run` once per iteration criterion asks for.
fn each_iteration(b: &mut criterion::Bencher<'_>, mut run: impl FnMut()) {
    b.iter_custom(|iters| (0..iters).map(|_| timed(&mut run)).sum())
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

// ---- the systems ----------------------------------------------------------------------

fn toonstore(
    dir: &Path,
    durability: Durability,
    cache_bytes: usize,
) -> Store<toonstore::io::MmapStorage> {
    // Samples overwrite the same keys again and again: no store limit gets in the way.
    let options =
        Options { durability, cache_bytes, max_store_bytes: u64::MAX, ..Options::default() };
    Store::open_dir(dir, options).unwrap()
}

fn toonstore_filled(dir: &Path, data: &Data) -> Store<toonstore::io::MmapStorage> {
    let store = toonstore(dir, Durability::Eventual, 0);
    for (k, d) in data.keys.iter().zip(&data.docs) {
        store.put(k, d).unwrap();
    }
    store.close().unwrap();
    drop(store);
    toonstore(dir, Durability::Eventual, 0)
}

/// The baseline: documents appended to one file, a HashMap of key -> (offset, length).
struct Baseline {
    file: File,
    index: HashMap<String, (u64, u32)>,
    end: u64,
}

impl Baseline {
    fn create(dir: &Path) -> Baseline {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(dir.join("data"))
            .unwrap();
        Baseline { file, index: HashMap::new(), end: 0 }
    }

    fn filled(dir: &Path, data: &Data) -> Baseline {
        let mut baseline = Baseline::create(dir);
        let mut writer = BufWriter::with_capacity(1 << 16, baseline.file.try_clone().unwrap());
        for (k, d) in data.keys.iter().zip(&data.docs) {
            writer.write_all(d.as_bytes()).unwrap();
            baseline.index.insert(k.clone(), (baseline.end, d.len() as u32));
            baseline.end += d.len() as u64;
        }
        writer.flush().unwrap();
        baseline
    }
}

fn fjall_open(dir: &Path) -> (fjall::Database, fjall::Keyspace) {
    let db = fjall::Database::builder(dir).open().unwrap();
    let keyspace = db.keyspace("docs", fjall::KeyspaceCreateOptions::default).unwrap();
    (db, keyspace)
}

const REDB_TABLE: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("docs");

fn sqlite_open(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("db.sqlite")).unwrap();
    conn.execute_batch(
        "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS docs (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
    )
    .unwrap();
    conn
}

// ---- the workloads --------------------------------------------------------------------

fn puts(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("engine-put");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).throughput(Throughput::Elements(KEYS));
    sample(&mut group, "toonstore", |dir| {
        let store = toonstore(dir, Durability::Eventual, 0);
        timed(|| {
            for (k, d) in data.keys.iter().zip(&data.docs) {
                store.put(k, d).unwrap();
            }
        })
    });
    sample(&mut group, "baseline-write-per-op", |dir| {
        let mut baseline = Baseline::create(dir);
        timed(|| {
            for (k, d) in data.keys.iter().zip(&data.docs) {
                baseline.file.write_all(d.as_bytes()).unwrap();
                baseline.index.insert(k.clone(), (baseline.end, d.len() as u32));
                baseline.end += d.len() as u64;
            }
        })
    });
    sample(&mut group, "baseline-buffered", |dir| {
        let mut baseline = Baseline::create(dir);
        timed(|| {
            let mut writer = BufWriter::with_capacity(1 << 16, &baseline.file);
            for (k, d) in data.keys.iter().zip(&data.docs) {
                writer.write_all(d.as_bytes()).unwrap();
                baseline.index.insert(k.clone(), (baseline.end, d.len() as u32));
                baseline.end += d.len() as u64;
            }
            writer.flush().unwrap();
        })
    });
    sample(&mut group, "fjall", |dir| {
        let (_db, keyspace) = fjall_open(dir);
        timed(|| {
            for (k, d) in data.keys.iter().zip(&data.docs) {
                keyspace.insert(k.as_str(), d.as_str()).unwrap();
            }
        })
    });
    sample(&mut group, "redb-txn-per-op", |dir| {
        let db = redb::Database::create(dir.join("db.redb")).unwrap();
        // redb commits are durable by default; 100k fsyncs would take minutes, so this
        // times the first 2% and scales (throughput is per operation either way).
        let n = (KEYS / 50) as usize;
        let took = timed(|| {
            for (k, d) in data.keys.iter().zip(&data.docs).take(n) {
                let txn = db.begin_write().unwrap();
                txn.open_table(REDB_TABLE).unwrap().insert(k.as_str(), d.as_bytes()).unwrap();
                txn.commit().unwrap();
            }
        });
        took * 50
    });
    sample(&mut group, "sqlite", |dir| {
        let conn = sqlite_open(dir);
        let n = (KEYS / 10) as usize;
        let took = timed(|| {
            let mut insert =
                conn.prepare_cached("INSERT OR REPLACE INTO docs (k, v) VALUES (?1, ?2)").unwrap();
            for (k, d) in data.keys.iter().zip(&data.docs).take(n) {
                insert.execute(rusqlite::params![k, d.as_bytes()]).unwrap();
            }
        });
        took * 10
    });
    group.finish();
}

fn gets(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("engine-get");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).throughput(Throughput::Elements(KEYS));
    let dir = temp_dir("get-toonstore");
    let store = toonstore_filled(&dir, data);
    group.bench_function("toonstore-uncached", |b| {
        each_iteration(b, || {
            for &i in &data.order {
                black_box(store.get(&data.keys[i]).unwrap());
            }
        })
    });
    drop(store);
    let cached = toonstore(&dir, Durability::Eventual, 512 << 20);
    for &i in &data.order {
        cached.get_value(&data.keys[i]).unwrap();
    }
    group.bench_function("toonstore-cached-decoded", |b| {
        each_iteration(b, || {
            for &i in &data.order {
                black_box(cached.get_value(&data.keys[i]).unwrap());
            }
        })
    });
    // The same gets on two threads at once (this machine has two cores): each thread runs
    // the whole order, so an iteration is twice the gets. The second starts half-way round:
    // in step, both would ask for the same document at the same moment, and measure the
    // bouncing of its count between the cores instead of two readers.
    group.throughput(Throughput::Elements(2 * KEYS));
    group.bench_function("toonstore-cached-decoded-2-threads", |b| {
        let cached = &cached;
        each_iteration(b, || {
            std::thread::scope(|s| {
                for thread in 0..2 {
                    let (later, first) = data.order.split_at(thread * data.order.len() / 2);
                    s.spawn(move || {
                        for &i in first.iter().chain(later) {
                            black_box(cached.get_value(&data.keys[i]).unwrap());
                        }
                    });
                }
            })
        })
    });
    group.throughput(Throughput::Elements(KEYS));
    drop(cached);
    std::fs::remove_dir_all(&dir).ok();

    let dir = temp_dir("get-baseline");
    let baseline = Baseline::filled(&dir, data);
    group.bench_function("baseline-pread", |b| {
        each_iteration(b, || {
            for &i in &data.order {
                let (offset, len) = baseline.index[&data.keys[i]];
                let mut buf = vec![0; len as usize];
                baseline.file.read_exact_at(&mut buf, offset).unwrap();
                black_box(buf);
            }
        })
    });
    // SAFETY: the benchmark owns the file and does not change it while mapped.
    let map = unsafe { memmap2::Mmap::map(&baseline.file) }.unwrap();
    group.bench_function("baseline-mmap", |b| {
        each_iteration(b, || {
            for &i in &data.order {
                let (offset, len) = baseline.index[&data.keys[i]];
                black_box(map[offset as usize..offset as usize + len as usize].to_vec());
            }
        })
    });
    drop(map);
    drop(baseline);
    std::fs::remove_dir_all(&dir).ok();

    let dir = temp_dir("get-fjall");
    {
        let (db, keyspace) = fjall_open(&dir);
        for (k, d) in data.keys.iter().zip(&data.docs) {
            keyspace.insert(k.as_str(), d.as_str()).unwrap();
        }
        db.persist(fjall::PersistMode::SyncAll).unwrap();
        group.bench_function("fjall", |b| {
            each_iteration(b, || {
                for &i in &data.order {
                    black_box(keyspace.get(&data.keys[i]).unwrap());
                }
            })
        });
    }
    std::fs::remove_dir_all(&dir).ok();

    let dir = temp_dir("get-redb");
    {
        let db = redb::Database::create(dir.join("db.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(REDB_TABLE).unwrap();
            for (k, d) in data.keys.iter().zip(&data.docs) {
                table.insert(k.as_str(), d.as_bytes()).unwrap();
            }
        }
        txn.commit().unwrap();
        group.bench_function("redb", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let txn = db.begin_read().unwrap();
                        let table = txn.open_table(REDB_TABLE).unwrap();
                        timed(|| {
                            for &i in &data.order {
                                black_box(
                                    table
                                        .get(data.keys[i].as_str())
                                        .unwrap()
                                        .map(|v| v.value().to_vec()),
                                );
                            }
                        })
                    })
                    .sum()
            })
        });
    }
    std::fs::remove_dir_all(&dir).ok();

    let dir = temp_dir("get-sqlite");
    {
        let mut conn = sqlite_open(&dir);
        let txn = conn.transaction().unwrap();
        {
            let mut insert = txn.prepare("INSERT INTO docs (k, v) VALUES (?1, ?2)").unwrap();
            for (k, d) in data.keys.iter().zip(&data.docs) {
                insert.execute(rusqlite::params![k, d.as_bytes()]).unwrap();
            }
        }
        txn.commit().unwrap();
        group.bench_function("sqlite", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let mut select =
                            conn.prepare_cached("SELECT v FROM docs WHERE k = ?1").unwrap();
                        timed(|| {
                            for &i in &data.order {
                                let v: Vec<u8> =
                                    select.query_row([&data.keys[i]], |row| row.get(0)).unwrap();
                                black_box(v);
                            }
                        })
                    })
                    .sum()
            })
        });
    }
    std::fs::remove_dir_all(&dir).ok();
    group.finish();
}

fn scans(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("engine-scan");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).throughput(Throughput::Elements(KEYS));
    let dir = temp_dir("scan-toonstore");
    let store = toonstore_filled(&dir, data);
    group.bench_function("toonstore", |b| {
        each_iteration(b, || {
            assert_eq!(
                store
                    .scan()
                    .inspect(|e| {
                        black_box(e.as_ref().unwrap());
                    })
                    .count(),
                KEYS as usize
            )
        })
    });
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
    let dir = temp_dir("scan-baseline");
    let baseline = Baseline::filled(&dir, data);
    // SAFETY: as above.
    let map = unsafe { memmap2::Mmap::map(&baseline.file) }.unwrap();
    let mut ordered: Vec<(&String, &(u64, u32))> = baseline.index.iter().collect();
    ordered.sort();
    group.bench_function("baseline-mmap", |b| {
        each_iteration(b, || {
            for &(k, &(offset, len)) in &ordered {
                black_box((k, map[offset as usize..offset as usize + len as usize].to_vec()));
            }
        })
    });
    drop(map);
    drop(baseline);
    std::fs::remove_dir_all(&dir).ok();
    group.finish();
}

fn durable(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("engine-durable-put");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Elements(DURABLE_PUTS));
    let n = DURABLE_PUTS as usize;
    sample(&mut group, "toonstore-immediate-1-writer", |dir| {
        let store = toonstore(dir, Durability::Immediate, 0);
        timed(|| {
            for (k, d) in data.keys.iter().zip(&data.docs).take(n) {
                store.put(k, d).unwrap();
            }
        })
    });
    sample(&mut group, "toonstore-immediate-8-writers", |dir| {
        let store = Arc::new(toonstore(dir, Durability::Immediate, 0));
        timed(|| {
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let store = store.clone();
                    let keys: Vec<(String, String)> = (t..n)
                        .step_by(8)
                        .map(|i| (data.keys[i].clone(), data.docs[i].clone()))
                        .collect();
                    std::thread::spawn(move || {
                        for (k, d) in keys {
                            store.put(&k, &d).unwrap();
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
        })
    });
    sample(&mut group, "baseline-fdatasync", |dir| {
        let mut baseline = Baseline::create(dir);
        timed(|| {
            for (k, d) in data.keys.iter().zip(&data.docs).take(n) {
                baseline.file.write_all(d.as_bytes()).unwrap();
                baseline.file.sync_data().unwrap();
                baseline.index.insert(k.clone(), (baseline.end, d.len() as u32));
                baseline.end += d.len() as u64;
            }
        })
    });
    sample(&mut group, "fjall-syncdata", |dir| {
        let (db, keyspace) = fjall_open(dir);
        timed(|| {
            for (k, d) in data.keys.iter().zip(&data.docs).take(n) {
                keyspace.insert(k.as_str(), d.as_str()).unwrap();
                db.persist(fjall::PersistMode::SyncData).unwrap();
            }
        })
    });
    group.finish();
}

fn mixed(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("engine-mixed");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).throughput(Throughput::Elements(KEYS));
    let dir = temp_dir("mixed-toonstore");
    let store = toonstore_filled(&dir, data);
    group.bench_function("toonstore", |b| {
        each_iteration(b, || {
            for (n, &i) in data.order.iter().enumerate() {
                if n % 2 == 0 {
                    black_box(store.get(&data.keys[i]).unwrap());
                } else {
                    store.put(&data.keys[i], &data.docs[(i + 1) % data.docs.len()]).unwrap();
                }
            }
        })
    });
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
    let dir = temp_dir("mixed-fjall");
    {
        let (_db, keyspace) = fjall_open(&dir);
        for (k, d) in data.keys.iter().zip(&data.docs) {
            keyspace.insert(k.as_str(), d.as_str()).unwrap();
        }
        group.bench_function("fjall", |b| {
            each_iteration(b, || {
                for (n, &i) in data.order.iter().enumerate() {
                    if n % 2 == 0 {
                        black_box(keyspace.get(&data.keys[i]).unwrap());
                    } else {
                        keyspace
                            .insert(
                                data.keys[i].as_str(),
                                data.docs[(i + 1) % data.docs.len()].as_str(),
                            )
                            .unwrap();
                    }
                }
            })
        });
    }
    std::fs::remove_dir_all(&dir).ok();
    group.finish();
}

fn reopen_and_compaction(c: &mut Criterion, data: &Data) {
    let mut group = c.benchmark_group("engine-open");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).throughput(Throughput::Elements(1));
    // A 1M-key store of small documents (1 KB x 1M would pass the 1 GiB default limit).
    let dir = temp_dir("open-1m");
    {
        let store = toonstore(&dir, Durability::Eventual, 0);
        for i in 0..1_000_000u64 {
            store.put(&key(i), &format!("id: {i}\nok: true")).unwrap();
        }
        store.close().unwrap();
    }
    group.bench_function("toonstore-1m-keys", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| timed(|| drop(black_box(toonstore(&dir, Durability::Eventual, 0)))))
                .sum()
        })
    });
    std::fs::remove_dir_all(&dir).ok();
    group.finish();

    // Disk after compaction against the live data: the bytes of the live keys and documents,
    // counted here, not by the store. Filed beside criterion's results for the report.
    let dir = temp_dir("compaction");
    let store = toonstore(&dir, Durability::Eventual, 0);
    let mut live_bytes = 0;
    for round in 0..3 {
        for (n, k) in data.keys.iter().enumerate().take(20_000) {
            let doc = &data.docs[(n + round) % data.docs.len()];
            store.put(k, doc).unwrap();
            if round == 2 {
                live_bytes += (k.len() + doc.len()) as u64;
            }
        }
    }
    store.compact().unwrap();
    let disk_bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    let out = toonstore_benches::report::bench_data_dir();
    std::fs::create_dir_all(&out).unwrap();
    let ratio = disk_bytes as f64 / live_bytes as f64;
    let json = format!(
        r#"{{"engine-compaction": {{"disk-per-live": {{"median_ns": {ratio}, "elements": 1}}}}}}"#
    );
    std::fs::write(out.join("engine.results.json"), json).unwrap();
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
}

fn engine(c: &mut Criterion) {
    let data = data();
    puts(c, &data);
    gets(c, &data);
    scans(c, &data);
    mixed(c, &data);
    durable(c, &data);
    reopen_and_compaction(c, &data);
}

criterion_group!(benches, engine);
criterion_main!(benches);
