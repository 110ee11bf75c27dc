//! Seeded fault simulation: one seed drives a random workload (puts, deletes, appends, row
//! deletes, batches, syncs, compactions, closes, drops, crashes and reopens, in both
//! durability modes and with random segment sizes) and every fault the disk model of
//! `FaultyStorage` can inject (a crash at any operation, writes since the last sync kept,
//! lost or torn at any byte in any order, a full disk whose room grows back later, `EIO` on
//! any call, bit flips in synced bytes). A model of what was acknowledged checks every step
//! and every reopen against the promises of `docs/FORMAT.md` ("Guarantees").
//!
//! CI runs `SEEDS` seeds; `SIM_SEEDS=N` runs N (from `SIM_FIRST`, default 0), `SIM_SEED=S`
//! replays one with a trace. A failure prints the command that replays its seed.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use toonstore::io::MemoryStorage;
use toonstore::io::fault::{CallKind, FaultyStorage};
use toonstore::store::{Batch, Durability, Error, Options, Store};

type Faulty = FaultyStorage<MemoryStorage>;

/// Flips refused at open or at a read, and flips in a last sync's bytes cut as torn.
static FLIPS_REFUSED: AtomicU64 = AtomicU64::new(0);
static FLIPS_CUT_AS_TORN: AtomicU64 = AtomicU64::new(0);
static FLIPS: AtomicU64 = AtomicU64::new(0);
static CRASHES: AtomicU64 = AtomicU64::new(0);

/// Seeds CI runs (about a minute in a debug build on two cores).
const SEEDS: u64 = 400;
/// Steps of one seed's workload.
const STEPS: usize = 160;

/// What the store holds, as the model sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Contents {
    keys: BTreeMap<String, String>,
    rows: BTreeMap<u64, String>,
}

/// The states the store may be found in after a crash: every acknowledged state since the
/// last one known durable, plus one a failed write of unknown outcome may have made.
#[derive(Debug)]
struct Model {
    history: Vec<Contents>,
    durable: usize,
    unknown: Option<Contents>,
    /// An append of unknown outcome: its text, under a row id the model cannot know.
    unknown_row: Option<String>,
}

impl Model {
    fn now(&self) -> &Contents {
        self.history.last().unwrap()
    }

    fn acknowledge(&mut self, next: Contents, durable: bool) {
        self.history.push(next);
        if durable {
            self.made_durable();
        }
    }

    fn made_durable(&mut self) {
        self.durable = self.history.len() - 1;
    }

    /// Whether `found` is what a write of unknown outcome may have made of the last state.
    fn unknown_matches(&self, found: &Contents) -> bool {
        if self.unknown.as_ref() == Some(found) {
            return true;
        }
        let Some(text) = &self.unknown_row else { return false };
        let now = self.now();
        let extra: Vec<_> =
            found.rows.iter().filter(|(id, _)| !now.rows.contains_key(id)).collect();
        found.keys == now.keys
            && found.rows.len() == now.rows.len() + 1
            && matches!(extra.as_slice(), [(_, t)] if *t == text)
    }

    /// Whether a reopen may find `found`.
    fn allowed(&self, found: &Contents) -> bool {
        self.history[self.durable..].contains(found) || self.unknown_matches(found)
    }

    fn restart(&mut self, found: Contents) {
        *self = Model { history: vec![found], durable: 0, unknown: None, unknown_row: None };
    }
}

/// The sequence of events of one seed, for the trace of a failure.
struct Trace {
    seed: u64,
    events: Vec<String>,
    verbose: bool,
}

impl Trace {
    fn note(&mut self, event: String) {
        if self.verbose {
            eprintln!("{event}");
        }
        self.events.push(event);
    }

    fn fail(&self, what: String) -> ! {
        let tail: Vec<&String> = self.events.iter().rev().take(30).collect();
        let tail: Vec<&String> = tail.into_iter().rev().collect();
        panic!(
            "seed {}: {what}\nlast events:\n  {}\nreplay: SIM_SEED={} cargo test -p toonstore --test store_simulation -- --nocapture",
            self.seed,
            tail.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
            self.seed
        );
    }
}

/// The files and their lengths, for a failure's report.
fn files(storage: &Faulty) -> String {
    use toonstore::io::{File, OpenMode, Storage};
    let mut names = storage.list().unwrap_or_default();
    names.sort();
    let length =
        |name: &String| storage.open(name, OpenMode::ReadOnly).and_then(|f| f.len()).unwrap_or(0);
    names.iter().map(|n| format!("{n} ({})", length(n))).collect::<Vec<_>>().join(", ")
}

/// What differs between two states, briefly.
fn diff(found: &Contents, expected: &Contents) -> String {
    let short = |t: Option<&String>| t.map(|t| t.chars().take(24).collect::<String>());
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> =
        found.keys.keys().chain(expected.keys.keys()).collect();
    for key in keys {
        let (a, b) = (found.keys.get(key), expected.keys.get(key));
        if a != b {
            out.push(format!("{key}: found {:?}, expected {:?}", short(a), short(b)));
        }
    }
    let rows: std::collections::BTreeSet<&u64> =
        found.rows.keys().chain(expected.rows.keys()).collect();
    for id in rows {
        let (a, b) = (found.rows.get(id), expected.rows.get(id));
        if a != b {
            out.push(format!("row {id}: found {:?}, expected {:?}", short(a), short(b)));
        }
    }
    out.join("; ")
}

fn document(rng: &mut fastrand::Rng, n: u64) -> String {
    match rng.u8(..4) {
        0 => format!("n: {n}"),
        1 => format!("n: {n}\ntags[2]: a,b"),
        2 => format!("n: {n}\ntext: {}", "w".repeat(rng.usize(10..400))),
        _ => format!("n: {n}\ntext: {}", "long ".repeat(rng.usize(100..900)).trim_end()),
    }
}

/// Reads everything back; `Err` when a read fails (which must be `Corrupted` or `Poisoned`
/// or an I/O error the fault plan injected).
fn read_all(store: &Store<Faulty>) -> Result<Contents, Error> {
    let mut found = Contents::default();
    for entry in store.scan() {
        let (key, text) = entry?;
        found.keys.insert(key.to_string(), text);
    }
    for entry in store.scan_rows() {
        let (id, text) = entry?;
        found.rows.insert(id, text);
    }
    Ok(found)
}

/// The fault plan of one seed: which faults, how often.
struct Plan {
    eio: Option<u32>,
    space: bool,
    crashes: bool,
    flips: bool,
}

struct Sim {
    /// A flipped bit that an open did not meet may be met later (a hint covered it): from
    /// then on `Corrupted` is an answer at any open or read.
    damaged: bool,
    rng: fastrand::Rng,
    options: Options,
    storage: Faulty,
    fault_rng: Arc<Mutex<fastrand::Rng>>,
    plan: Plan,
    model: Model,
    trace: Trace,
    next_value: u64,
}

impl Sim {
    fn new(seed: u64, verbose: bool) -> Sim {
        let mut rng = fastrand::Rng::with_seed(seed);
        let options = Sim::options(&mut rng);
        let plan = Plan {
            eio: rng.bool().then(|| rng.u32(150..3000)),
            space: rng.u8(..3) == 0,
            crashes: rng.u8(..4) != 0,
            flips: rng.u8(..3) == 0,
        };
        let fault_rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(seed ^ 0x5eed)));
        let storage = FaultyStorage::new(MemoryStorage::new()).unwrap();
        Sim {
            damaged: false,
            rng,
            options,
            storage,
            fault_rng,
            plan,
            model: Model {
                history: vec![Contents::default()],
                durable: 0,
                unknown: None,
                unknown_row: None,
            },
            trace: Trace { seed, events: Vec::new(), verbose },
            next_value: 0,
        }
    }

    fn options(rng: &mut fastrand::Rng) -> Options {
        Options {
            durability: if rng.bool() { Durability::Eventual } else { Durability::Immediate },
            segment_bytes: [512, 1024, 2048, 4096, 1 << 16][rng.usize(..5)],
            cache_bytes: [0, 1 << 12, 1 << 20][rng.usize(..3)],
            ..Options::default()
        }
    }

    /// Turns the random `EIO` faults on or off.
    fn faults(&mut self, on: bool) {
        match (on, self.plan.eio) {
            (true, Some(one_in)) => {
                let rng = self.fault_rng.clone();
                self.storage.set_fault(move |call| {
                    let mut rng = rng.lock().unwrap();
                    // Reads fail too: a read error must never be taken for damage.
                    let kinds = [
                        CallKind::Write,
                        CallKind::Sync,
                        CallKind::SetLen,
                        CallKind::DirSync,
                        CallKind::Create,
                        CallKind::Remove,
                        CallKind::Read,
                        CallKind::Len,
                    ];
                    (kinds.contains(&call.kind) && rng.u32(..one_in) == 0)
                        .then_some(ErrorKind::Other)
                });
            }
            _ => self.storage.clear_fault(),
        }
    }

    /// Opens the store on the current storage; retries (without faults) when an injected
    /// `EIO` made the open fail. `flipped`: a bit was flipped, so `Corrupted` is an answer.
    fn open(&mut self, flipped: Option<(String, u64, bool)>) -> Option<Store<Faulty>> {
        self.faults(true);
        let flipped = match (flipped, self.damaged) {
            (None, true) => Some(("an earlier flip".to_owned(), 0, false)),
            (flipped, _) => flipped,
        };
        if flipped.is_some() {
            self.damaged = true;
        }
        if self.trace.verbose {
            self.trace.note(format!("  opening: {}", files(&self.storage)));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Store::open(self.storage.clone(), self.options.clone()) {
                Ok(store) => {
                    self.faults(false);
                    let found = match read_all(&store) {
                        Ok(found) => found,
                        Err(Error::Corrupted { .. }) if flipped.is_some() => {
                            self.trace.note("a read met the flipped bit: Corrupted".into());
                            FLIPS_REFUSED.fetch_add(1, Ordering::Relaxed);
                            return None;
                        }
                        Err(e) => self.trace.fail(format!("reading back after open: {e}")),
                    };
                    let tail_cut = store.stats().recovered_tail_bytes > 0;
                    if !self.model.allowed(&found) {
                        // The documented limit: damage to the bytes of the last sync of the
                        // active segment, with nothing on disk after it saying they were
                        // synced, looks like a torn write and is cut (and reported).
                        let in_last_sync = matches!(&flipped, Some((_, _, true)));
                        if in_last_sync && tail_cut {
                            FLIPS_CUT_AS_TORN.fetch_add(1, Ordering::Relaxed);
                        } else {
                            self.trace.fail(format!(
                                "reopened to a state never acknowledged or older than durable (flip: {flipped:?})\nagainst durable: {}\nagainst last: {}",
                                diff(&found, &self.model.history[self.model.durable]),
                                diff(&found, self.model.now())
                            ));
                        }
                    }
                    self.trace.note(format!(
                        "opened: {} keys, {} rows",
                        found.keys.len(),
                        found.rows.len()
                    ));
                    if self.trace.verbose {
                        self.trace.note(format!("  files: {}", files(&self.storage)));
                    }
                    self.model.restart(found);
                    self.faults(true);
                    return Some(store);
                }
                Err(Error::Corrupted { file, offset, reason }) if flipped.is_some() => {
                    self.trace.note(format!("refused after flip: {file} at {offset}: {reason}"));
                    FLIPS_REFUSED.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                Err(Error::UnsupportedVersion { .. }) if flipped.is_some() => return None,
                Err(Error::Io(e)) if attempt < 4 && self.plan.eio.is_some() => {
                    self.trace.note(format!("open failed on injected I/O error: {e}"));
                    self.faults(attempt < 2);
                }
                Err(Error::StoreFull { .. }) if self.plan.space && attempt < 4 => {
                    self.trace.note("open found no room; room grows".into());
                    self.storage.set_space(None);
                }
                Err(e) => {
                    self.faults(false);
                    let files = files(&self.storage);
                    self.trace.fail(format!("open failed: {e} (flip: {flipped:?})\nfiles: {files}"))
                }
            }
        }
    }

    /// A power cut: an image of what the disk may hold, maybe with a bit flipped in synced
    /// bytes, becomes the storage.
    fn crash(&mut self, store: Store<Faulty>) -> Option<Store<Faulty>> {
        self.stop(store);
        let mut image_rng = fastrand::Rng::with_seed(self.rng.u64(..));
        let image = match self.rng.u8(..4) {
            0 => self.storage.durable_image(),
            _ => self.storage.crash_image(&mut |n| image_rng.u64(..n)),
        };
        let mut flipped = None;
        if self.plan.flips && self.rng.u8(..3) == 0 {
            flipped = self.flip(&image);
            FLIPS.fetch_add(u64::from(flipped.is_some()), Ordering::Relaxed);
        }
        CRASHES.fetch_add(1, Ordering::Relaxed);
        self.trace.note(format!("crash (flip: {flipped:?})"));
        self.storage = FaultyStorage::new(image).unwrap();
        self.open(flipped)
    }

    /// Ends a store as a crash does: nothing more reaches the storage (dropping it syncs
    /// nothing), and its memory is freed (a forgotten store would leak it, seed after seed).
    fn stop(&self, store: Store<Faulty>) {
        self.storage.crash_at(self.storage.operations() + 1);
        drop(store);
    }

    /// Flips one bit in bytes a sync made durable; returns the file, the offset, and whether
    /// they were among the bytes the file's last sync wrote.
    fn flip(&mut self, image: &MemoryStorage) -> Option<(String, u64, bool)> {
        let snapshot = image.snapshot();
        let mut names: Vec<&String> = snapshot
            .keys()
            .filter(|n| n.starts_with("seg-") || *n == "MANIFEST" || n.starts_with("hint-"))
            .collect();
        names.sort();
        let name = (*names.get(self.rng.usize(..names.len().max(1)))?).clone();
        let durable = self.storage.durable_image().snapshot();
        let len = durable.get(&name)?.len().min(snapshot[&name].len());
        if len == 0 {
            return None;
        }
        let at = self.rng.usize(..len) as u64;
        let in_last_sync =
            self.storage.last_synced_range(&name).is_some_and(|(a, b)| (a..b).contains(&at));
        use toonstore::io::{File, OpenMode, Storage};
        let file = image.open(&name, OpenMode::Existing).unwrap();
        let mut byte = [0];
        file.read_at(at, &mut byte).unwrap();
        file.write_at(at, &[byte[0] ^ (1 << self.rng.u8(..8))]).unwrap();
        Some((name, at, in_last_sync))
    }

    fn key(&mut self) -> String {
        format!("k{:02}", self.rng.u8(..24))
    }

    /// Runs the workload.
    fn run(&mut self) {
        let mut store = self.open(None).expect("a new store opens");
        if self.plan.space {
            // Room for a while; later it grows back.
            let budget = self.storage.used() + self.rng.u64(4_000..200_000);
            self.storage.set_space(Some(budget));
        }
        let crash_at =
            if self.plan.crashes { self.rng.usize(STEPS / 4..STEPS) } else { usize::MAX };
        for step in 0..STEPS {
            if step == crash_at || (self.plan.crashes && self.rng.u8(..40) == 0) {
                // Sometimes mid-operation: the machine stops a few operations from now.
                if self.rng.bool() {
                    self.storage.crash_at(self.storage.operations() + self.rng.u64(1..30));
                    self.write_step(&store);
                }
                store = match self.crash(store) {
                    Some(store) => store,
                    None => return,
                };
                continue;
            }
            if self.plan.space && self.rng.u8(..30) == 0 {
                self.trace.note("room grows".into());
                self.storage.set_space(None);
            }
            match self.rng.u8(..20) {
                how @ 0..=2 => {
                    store = match self.reopen(store, ["close", "drop", "kill"][how as usize]) {
                        Some(store) => store,
                        None => return,
                    }
                }
                3 if !self.check_reads(&store) => return,
                3 => {}
                _ => self.write_step(&store),
            }
        }
        self.check_reads(&store);
    }

    /// One write of any kind, checked against the model.
    fn write_step(&mut self, store: &Store<Faulty>) {
        let mut next = self.model.now().clone();
        let immediate = self.options.durability == Durability::Immediate;
        let (what, result): (String, Result<bool, Error>) = match self.rng.u8(..16) {
            0..=5 => {
                let key = self.key();
                let text = document(&mut self.rng, self.next_value);
                self.next_value += 1;
                next.keys.insert(key.clone(), text.clone());
                (format!("put {key}"), store.put(&key, &text).map(|()| true))
            }
            6 | 7 => {
                let key = self.key();
                let existed = next.keys.remove(&key).is_some();
                let result = store.delete(&key);
                if let Ok(found) = result
                    && found != existed
                {
                    self.trace.fail(format!("delete {key} said existed={found}, model {existed}"));
                }
                (format!("delete {key}"), result.map(|_| true))
            }
            8 | 9 => {
                let text = document(&mut self.rng, self.next_value);
                self.next_value += 1;
                let result = store.append(&text);
                match result {
                    Ok(id) => {
                        if next.rows.contains_key(&id) {
                            self.trace.fail(format!("append gave row {id}, which exists"));
                        }
                        next.rows.insert(id, text);
                    }
                    Err(Error::SyncFailed) if self.model.unknown_row.is_none() => {
                        self.model.unknown_row = Some(text);
                    }
                    Err(_) => {}
                }
                ("append".into(), result.map(|_| true))
            }
            10 => {
                let id = self.rng.u64(..self.next_value.max(1) + 3);
                let existed = next.rows.remove(&id).is_some();
                let result = store.delete_row(id);
                if let Ok(found) = result
                    && found != existed
                {
                    self.trace
                        .fail(format!("delete_row {id} said existed={found}, model {existed}"));
                }
                (format!("delete_row {id}"), result.map(|_| true))
            }
            11 | 12 => {
                let mut batch = Batch::new();
                for _ in 0..self.rng.usize(1..5) {
                    let key = self.key();
                    if self.rng.u8(..3) == 0 {
                        next.keys.remove(&key);
                        batch.delete(key);
                    } else {
                        let text = document(&mut self.rng, self.next_value);
                        self.next_value += 1;
                        next.keys.insert(key.clone(), text.clone());
                        batch.put(key, text);
                    }
                }
                ("batch".into(), store.batch(&batch).map(|()| true))
            }
            13 | 14 => {
                next = self.model.now().clone();
                ("sync".into(), store.sync().map(|()| false))
            }
            _ => {
                next = self.model.now().clone();
                ("compact".into(), store.compact().map(|_| false))
            }
        };
        self.trace.note(format!("{what}: {result:?}"));
        match result {
            Ok(changed) => {
                if changed {
                    self.model.acknowledge(next, immediate);
                } else {
                    // A sync or compaction made everything before it durable.
                    self.model.made_durable();
                }
            }
            // Refused, or failed before its record reached the file: as if never called.
            Err(Error::StoreFull { .. } | Error::Poisoned | Error::Io(_)) => {}
            Err(Error::TooLarge { what: "row id", .. }) => {}
            // An `Immediate` write whose sync failed: its outcome is unknown.
            Err(Error::SyncFailed) => {
                if next != *self.model.now() && self.model.unknown.is_none() {
                    self.model.unknown = Some(next);
                }
            }
            Err(e) => self.trace.fail(format!("{what}: unexpected error {e}")),
        }
    }

    /// Reads check the model: what was acknowledged reads back (or, poisoned, `Poisoned`
    /// or the value of an unknown outcome).
    /// Returns false when a read met damage a flip left (the seed ends there).
    fn check_reads(&mut self, store: &Store<Faulty>) -> bool {
        self.faults(false);
        match read_all(store) {
            Ok(found) => {
                let ok = found == *self.model.now() || self.model.unknown_matches(&found);
                if !ok {
                    self.trace.fail(format!(
                        "reads disagree with the model: {}",
                        diff(&found, self.model.now())
                    ));
                }
            }
            Err(Error::Corrupted { .. }) if self.damaged => {
                FLIPS_REFUSED.fetch_add(1, Ordering::Relaxed);
                self.faults(true);
                return false;
            }
            Err(e) => self.trace.fail(format!("a read failed without damage: {e}")),
        }
        self.faults(true);
        true
    }

    /// Ends the store one of three ways and opens it again on the same storage (the page
    /// cache survives: no crash).
    fn reopen(&mut self, store: Store<Faulty>, how: &str) -> Option<Store<Faulty>> {
        match how {
            "close" => {
                match store.close() {
                    Ok(()) => self.model.made_durable(),
                    Err(e) => self.trace.note(format!("close: {e}")),
                }
                drop(store);
            }
            "drop" => drop(store),
            _ => {
                // A killed process: the write buffer is lost, the files stay.
                self.stop(store);
                self.storage.clear_crash();
            }
        }
        self.trace.note(how.into());
        if self.rng.u8(..4) == 0 {
            self.options = Sim::options(&mut self.rng);
        }
        let store = self.open(None);
        if store.is_none() && !self.damaged {
            self.trace.fail("a reopen without damage failed".into());
        }
        store
    }
}

fn run_seed(seed: u64, verbose: bool) {
    let mut sim = Sim::new(seed, verbose);
    sim.run();
}

#[test]
fn seeded_fault_simulation() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(seed) = env("SIM_SEED") {
        run_seed(seed, true);
        return;
    }
    let first = env("SIM_FIRST").unwrap_or(0);
    let count = env("SIM_SEEDS").unwrap_or(SEEDS);
    let started = std::time::Instant::now();
    // SIM_KEEP_GOING=1: run every seed and list the failing ones at the end.
    let keep_going = std::env::var_os("SIM_KEEP_GOING").is_some();
    let mut failed = Vec::new();
    for seed in first..first + count {
        let seed_started = std::time::Instant::now();
        if keep_going && (seed - first) % 1000 == 0 {
            eprintln!("seed {seed} at {:.0?}", started.elapsed());
        }
        match keep_going {
            false => run_seed(seed, false),
            true => {
                if std::panic::catch_unwind(|| run_seed(seed, false)).is_err() {
                    failed.push(seed);
                }
            }
        }
        if seed_started.elapsed() > std::time::Duration::from_secs(5) {
            eprintln!("seed {seed} took {:.1?}", seed_started.elapsed());
        }
    }
    assert!(failed.is_empty(), "{} failing seeds: {failed:?}", failed.len());
    println!(
        "{count} seeds from {first} in {:.1?}: {} crashes; {} bit flips, {} refused as Corrupted, {} in a last sync's bytes cut as a torn tail",
        started.elapsed(),
        CRASHES.load(Ordering::Relaxed),
        FLIPS.load(Ordering::Relaxed),
        FLIPS_REFUSED.load(Ordering::Relaxed),
        FLIPS_CUT_AS_TORN.load(Ordering::Relaxed),
    );
}
