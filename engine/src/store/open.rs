//! Opening a store: creation, recovery, and the tidying an open does once it has succeeded.
//!
//! An open reads the winning manifest slot, checks every segment it names, loads the hint if
//! it fits the store, and replays the log after it (`replay.rs`). Nothing is written until
//! all of that has succeeded; then a writable open after an unclean shutdown cuts a torn
//! tail, writes the log's unproven tail again from user space and syncs it (so bytes a failed
//! sync left only in the page cache reach the disk), commits a new manifest generation, and
//! removes the files no manifest names. A read-only open writes nothing, and retries when a
//! writer beside it moved the store on while it read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use super::error::{Error, Limit, Result, corrupted, is_full};
use super::hint::{self, Snapshot};
use super::index::Index;
use super::manifest::{self, Manifest, Other};
use super::options::Recovery as RecoveryMode;
use super::replay::{Ending, Replay};
use super::{Cache, Options, Recovered, State, Store, SyncState, WRITE_BUFFER, Writer, segment};
use crate::io::{File, OpenMode, Storage};

/// Files that belong to the directory, not to the log: kept by every open.
pub(super) const RESERVE: &str = "RESERVE";
const SALVAGE_PREFIX: &str = "salvage-";

/// A read-only open retries this many times when a writer changed the store under it.
const READ_ONLY_ATTEMPTS: usize = 20;

/// A replay of the log: the index, where the active segment's log ends and how much of it
/// is known durable, whether a tail was torn, the salvage to do (segment, offset, records
/// dropped), and whether a hint was used.
struct Replayed {
    replay: Replay,
    end: u64,
    synced: u64,
    torn: bool,
    salvage: Vec<(u64, u64, u64)>,
    hint_used: bool,
}

/// What recovery found, before anything is written.
struct Found<F> {
    manifest: Manifest,
    /// The manifest slot to commit to is stale: a new generation is committed at open.
    commit: bool,
    segments: HashMap<u64, Arc<F>>,
    active_version: u32,
    replay: Replay,
    /// Where the active segment's log ends, and how much of it was shown durable.
    end: u64,
    synced: u64,
    hint_used: bool,
    /// Salvage: (segment, offset, records dropped) to move aside and cut.
    salvage: Vec<(u64, u64, u64)>,
    orphans: Vec<String>,
    has_reserve: bool,
    /// Each segment's file length when recovery read it.
    lengths: HashMap<u64, u64>,
}

/// A read-only open finding no manifest: there is no store to read.
fn no_store() -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "no store here (a read-only open does not create one)",
    ))
}

/// The length of file `name`, `None` when it is gone: a file listed a moment ago may have
/// been removed since by a writer beside a read-only open (a compaction, a rotation's
/// leftover); then it is simply not there.
fn len_if_present<S: Storage>(storage: &S, name: &str) -> Result<Option<u64>> {
    match storage.open(name, OpenMode::ReadOnly) {
        Ok(file) => Ok(Some(file.len()?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Errors a read-only open meets when a writer changed files under it.
fn read_past_changes(e: &Error) -> bool {
    match e {
        Error::Corrupted { .. } => true,
        Error::Io(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        _ => false,
    }
}

/// Counts what a creation wrote, to report a full disk with real sizes.
struct Growth(u64);

impl Growth {
    fn full(&self, e: std::io::Error, more: u64) -> Error {
        match is_full(&e) {
            true => Error::StoreFull { size: self.0 + more, limit: self.0, by: Limit::Storage },
            false => e.into(),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Store<crate::io::MmapStorage> {
    /// Opens (or creates) the store in directory `dir`, reading sealed segments through
    /// memory maps. A second writer on the same directory gets [`Error::Locked`].
    pub fn open_dir(dir: impl AsRef<std::path::Path>, options: Options) -> Result<Self> {
        Store::open(crate::io::MmapStorage::open_dir(dir)?, options)
    }
}

impl<S: Storage> Store<S> {
    /// Opens the store held by `storage`, creating it when the storage is empty. Options are
    /// checked first ([`Error::InvalidOption`]); damage that is not a torn tail is
    /// [`Error::Corrupted`] unless [`Options::recovery`] asks to salvage.
    pub fn open(storage: S, options: Options) -> Result<Self> {
        options.validate()?;
        if options.read_only {
            return Self::open_read_only(storage, options);
        }
        storage.lock().map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => Error::Locked,
            _ => e.into(),
        })?;
        let found = Self::recover(&storage, &options)?;
        Self::start(storage, options, found)
    }

    fn open_read_only(storage: S, options: Options) -> Result<Self> {
        let generation =
            |storage: &S| manifest::load(storage).ok().flatten().map(|(m, _)| m.generation);
        let mut before = generation(&storage);
        for _ in 1..READ_ONLY_ATTEMPTS {
            match Self::recover(&storage, &options) {
                Ok(found) => return Self::start(storage, options, found),
                // A writer may have committed (a compaction removing segments, a rotation, a
                // trim) while this open read: then the same open again sees a consistent store.
                Err(e) if read_past_changes(&e) && generation(&storage) != before => {
                    before = generation(&storage);
                }
                Err(e) => return Err(e),
            }
        }
        Self::recover(&storage, &options).and_then(|found| Self::start(storage, options, found))
    }

    /// Whether the files are those of a creation a crash interrupted: at most the first
    /// segment, holding no record. (Any other segment means a manifest was lost.)
    fn interrupted_creation(storage: &S) -> Result<bool> {
        for name in storage.list()? {
            let Some(id) = segment::id_of(&name) else { continue };
            match len_if_present(storage, &name)? {
                Some(len) if id != 1 || len > segment::HEADER => return Ok(false),
                _ => {}
            }
        }
        Ok(true)
    }

    /// A new store: its first segment, then the manifest naming it (the commit).
    fn create(storage: &S) -> Result<Manifest> {
        let mut growth = Growth(0);
        // What an interrupted creation left holds no record: start over.
        match storage.remove(&segment::name(1)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let manifest_file = storage.open(manifest::FILE, OpenMode::Create)?;
        manifest_file.set_len(0)?;
        // Slot 0 written too (as zeros, an invalid slot): later commits then overwrite bytes
        // that exist, and never meet a full disk.
        let zeros = [0; manifest::SLOT_SIZE];
        manifest_file.write_at(0, &zeros).map_err(|e| growth.full(e, zeros.len() as u64))?;
        segment::create(storage, 1).map_err(|e| growth.full(e, segment::HEADER))?;
        growth.0 += segment::HEADER;
        let manifest = Manifest {
            generation: 1,
            first_segment: 1,
            segments: 1,
            next_row: 0,
            next_sequence: 1,
            hint: 0,
            active_synced: segment::HEADER,
        };
        let slot_end = manifest::SLOT_SIZE as u64 + manifest::SLOT_BYTES;
        manifest::store(&manifest_file, &manifest).map_err(|e| growth.full(e, slot_end))?;
        storage.sync()?;
        Ok(manifest)
    }

    /// Reads the store back without writing anything.
    fn recover(storage: &S, options: &Options) -> Result<Found<S::File>> {
        let read_only = options.read_only;
        let loaded = manifest::load(storage);
        let creation = match &loaded {
            Ok(None) | Err(Error::Corrupted { .. }) => Self::interrupted_creation(storage)?,
            _ => false,
        };
        let (mut manifest, other, created) = match loaded {
            Ok(Some((manifest, other))) => (manifest, other, false),
            // Nothing yet, or a first manifest commit torn by a crash: no store was opened.
            Ok(None) | Err(Error::Corrupted { .. }) if creation => match read_only {
                true => return Err(no_store()),
                false => (Self::create(storage)?, Other::Older, true),
            },
            Ok(None) => {
                return Err(corrupted(
                    manifest::FILE,
                    0,
                    "segments exist but the manifest is missing or empty",
                ));
            }
            Err(e) => return Err(e),
        };
        let mode = if read_only { OpenMode::ReadOnly } else { OpenMode::Existing };
        let open_segment = |id: u64| -> Result<(Arc<S::File>, u32)> {
            let file = storage.open(&segment::name(id), mode).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    corrupted(&segment::name(id), 0, "segment named by the manifest is missing")
                }
                _ => e.into(),
            })?;
            let version = segment::check_header(&file, id)?;
            Ok((Arc::new(file), version))
        };
        let mut segments = HashMap::new();
        let mut versions = HashMap::new();
        for id in manifest.ids() {
            let (file, version) = open_segment(id)?;
            segments.insert(id, file);
            versions.insert(id, version);
        }

        // Files no manifest names.
        let mut orphans = Vec::new();
        let mut has_reserve = false;
        let mut names = storage.list()?;
        names.sort();
        let mut adopted = false;
        for name in names {
            if let Some(id) = segment::id_of(&name) {
                if manifest.ids().contains(&id) {
                    continue;
                }
                // Below the first: dropped by a committed compaction. At or past the next:
                // a rotation's new segment; records go into it only once a manifest names
                // it, so one holding records means the newest commit is not the winner.
                let len = match id >= manifest.next_segment() {
                    true => match len_if_present(storage, &name)? {
                        Some(len) => len,
                        None => continue,
                    },
                    false => 0,
                };
                let holds_records = len > segment::HEADER;
                // A reader beside a writer sees the writer's newer segments; with both slots
                // valid, the winner was the newest commit when this open read it.
                let newer_than_read = read_only && other == Other::Older;
                if !holds_records || newer_than_read {
                    orphans.push(name);
                } else if options.recovery == RecoveryMode::Salvage && id == manifest.next_segment()
                {
                    let (file, version) = open_segment(id)?;
                    segments.insert(id, file);
                    versions.insert(id, version);
                    manifest.segments += 1;
                    adopted = true;
                } else {
                    let slot = match other {
                        Other::Invalid => "the other slot is damaged or torn",
                        Other::Older => "both slots are valid",
                    };
                    return Err(corrupted(
                        manifest::FILE,
                        0,
                        format!(
                            "{name} holds records but the manifest ({slot}) does not name it; \
                             open with Recovery::Salvage to take it back"
                        ),
                    ));
                }
            } else if hint::id_of(&name).is_some_and(|id| id != manifest.hint) {
                orphans.push(name);
            } else if name == RESERVE {
                // Whole, or made again (a crash may have left it short).
                let len = len_if_present(storage, &name)?.unwrap_or(0);
                has_reserve = len == options.reserve_bytes && len > 0;
            }
        }

        let lengths: HashMap<u64, u64> =
            segments.iter().map(|(&id, f)| Ok((id, f.len()?))).collect::<Result<_>>()?;
        let snapshot = match (manifest.hint, options.recovery) {
            (0, _) | (_, RecoveryMode::Salvage) => None,
            (id, RecoveryMode::Strict) => hint::read(storage, id)?
                .filter(|s| s.fits(manifest.ids(), &|id| lengths.get(&id).copied().unwrap_or(0))),
        };
        // A close left the hint covering the whole log: nothing after it to replay.
        let closed_at = snapshot.as_ref().map(|s| (s.coverage.segment, s.coverage.offset));
        // Damage past the hint gives `None`: then the whole log is replayed and decides.
        let replayed = match snapshot {
            Some(snapshot) => {
                Self::replay(&manifest, &segments, &versions, options, Some(snapshot))?
            }
            None => None,
        };
        let Replayed { replay, end, synced, torn, salvage, hint_used } = match replayed {
            Some(found) => found,
            None => Self::replay(&manifest, &segments, &versions, options, None)?
                .expect("a full replay never asks to start over"),
        };
        let active = manifest.active();
        let clean = created
            || hint_used
                && closed_at == Some((active, end))
                && !torn
                && !adopted
                && orphans.is_empty()
                && lengths[&active] == end;
        Ok(Found {
            commit: !clean || adopted,
            active_version: versions[&active],
            manifest,
            segments,
            replay,
            end,
            synced,
            hint_used,
            salvage,
            orphans,
            has_reserve,
            lengths,
        })
    }

    /// Replays the log, from the snapshot if one is given; `None` when damage showed up past
    /// the snapshot (the caller replays everything).
    fn replay(
        manifest: &Manifest,
        segments: &HashMap<u64, Arc<S::File>>,
        versions: &HashMap<u64, u32>,
        options: &Options,
        snapshot: Option<Snapshot>,
    ) -> Result<Option<Replayed>> {
        let mut replay = Replay { next_row: manifest.next_row, ..Replay::default() };
        let active = manifest.active();
        let (first, mut from, mut synced) =
            (manifest.first_segment, segment::HEADER, segment::HEADER);
        let mut start = first;
        let hinted = snapshot.is_some();
        if let Some(snapshot) = snapshot {
            let coverage = snapshot.coverage;
            start = coverage.segment;
            from = coverage.offset;
            synced = coverage.offset;
            replay.next_row = replay.next_row.max(coverage.next_row);
            replay.last_sequence = coverage.next_sequence.checked_sub(1).filter(|&s| s > 0);
            replay.max_sequence = coverage.next_sequence.saturating_sub(1);
            replay.index = Index::from_snapshot(snapshot.keys, snapshot.rows);
        }
        let (mut end, mut torn, mut salvage) = (segment::HEADER, false, Vec::new());
        for id in start..=active {
            let last = id == active;
            let mut floor = if id == start { synced } else { segment::HEADER };
            if last {
                // What the last commit recorded durable, from a slot written after the sync.
                floor = floor.max(manifest.active_synced);
                if manifest.active_synced > segments[&id].len()? {
                    let reason = "the segment is shorter than the manifest says is durable";
                    return Err(corrupted(&segment::name(id), manifest.active_synced, reason));
                }
            }
            let begin = if id == start { from } else { segment::HEADER };
            let (ending, proven) =
                replay.segment(segments[&id].as_ref(), id, versions[&id], begin, last, floor)?;
            synced = proven;
            match ending {
                Ending::Clean(at) => end = at,
                Ending::Torn(at) => {
                    end = at;
                    torn = true;
                }
                Ending::Damaged { .. } if hinted => return Ok(None),
                Ending::Damaged { offset, dropped, .. }
                    if options.recovery == RecoveryMode::Salvage =>
                {
                    salvage.push((id, offset, dropped));
                    end = offset;
                    torn = last;
                }
                Ending::Damaged { offset, reason, .. } => {
                    return Err(corrupted(&segment::name(id), offset, reason));
                }
            }
        }
        Ok(Some(Replayed { replay, end, synced, torn, salvage, hint_used: hinted }))
    }

    /// Builds the store from what recovery found; a writable one then tidies up.
    fn start(storage: S, options: Options, found: Found<S::File>) -> Result<Self> {
        let active_id = found.manifest.active();
        let manifest_mode = if options.read_only { OpenMode::ReadOnly } else { OpenMode::Existing };
        let manifest_file = storage.open(manifest::FILE, manifest_mode)?;
        let replay = &found.replay;
        // Below `MAX_SEQUENCE` (replay refuses more): the additions cannot overflow.
        let sequence = found.manifest.next_sequence.max(replay.max_sequence + 1).max(1);
        let next_row = found.manifest.next_row.max(replay.next_row);
        let recovered = Recovered {
            torn_bytes: replay.torn_bytes,
            salvaged_records: found.salvage.iter().map(|&(_, _, dropped)| dropped).sum(),
            salvage_files: found
                .salvage
                .iter()
                .map(|&(id, at, _)| salvage_name(id, at, found.manifest.generation))
                .collect(),
        };
        let mut manifest = found.manifest.clone();
        if !options.read_only && found.commit {
            Self::tidy(&storage, &manifest_file, &mut manifest, &found, sequence, next_row)?;
        }
        // Segment lengths as recovery read them, with what a writable salvage cut.
        let cut: HashMap<u64, u64> = match options.read_only {
            true => HashMap::new(),
            false => found.salvage.iter().map(|&(id, offset, _)| (id, offset)).collect(),
        };
        let log_bytes = (found.lengths.iter())
            .map(
                |(id, &len)| {
                    if *id == active_id { found.end } else { cut.get(id).copied().unwrap_or(len) }
                },
            )
            .sum();
        let Found { segments, active_version, replay, end, synced, has_reserve, .. } = found;
        let active = segments[&active_id].clone();
        // A writable open made the whole log durable (or found it so, under a hint).
        let durable = if options.read_only { synced } else { end };
        let store = Store {
            state: RwLock::new(State { index: replay.index, segments }),
            writer: Mutex::new(Some(Writer {
                manifest,
                manifest_file,
                active,
                active_id,
                active_version,
                end,
                pending: Vec::with_capacity(WRITE_BUFFER),
                flushed: end,
                zeroed: 0,
                durable,
                marked: durable,
                mark_at: None,
                sequence,
                next_row,
                log_bytes,
                written: 0,
                reserve: has_reserve,
            })),
            sync_state: Mutex::new(SyncState::default()),
            synced: Condvar::new(),
            sync_lock: Mutex::new(()),
            cache: Cache::new(options.cache_bytes),
            poisoned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            recovered,
            active_segment: AtomicU64::new(active_id),
            flushed_end: AtomicU64::new(end),
            options,
            storage,
        };
        if !store.options.read_only {
            store.ensure_reserve();
        }
        Ok(store)
    }

    /// After an unclean shutdown (or a salvage), once the open has succeeded: moves damaged
    /// bytes aside, makes the log durable, commits a new manifest generation, cuts the torn
    /// tail and the damage, and removes the files no manifest names.
    fn tidy(
        storage: &S,
        manifest_file: &S::File,
        manifest: &mut Manifest,
        found: &Found<S::File>,
        sequence: u64,
        next_row: u64,
    ) -> Result<()> {
        // Damaged bytes moved aside first: they are cut only after the commit below.
        for &(id, offset, _) in &found.salvage {
            let file = &found.segments[&id];
            let len = file.len()?;
            // Named by the generation this open commits over: an open that did not get that
            // far (a crash) writes the same file again, whole; a later salvage gets a new one.
            let copy =
                storage.open(&salvage_name(id, offset, manifest.generation), OpenMode::Create)?;
            copy_range(file.as_ref(), offset..len, &copy, offset)?;
            copy.set_len(len - offset)?;
            copy.sync_data()?;
            storage.sync()?;
        }
        // Write what no sync is known to have made durable again from user space (a failed
        // sync may have left it in the page cache only, where a sync of this process would not
        // find it dirty), sync it, and commit: the log up to its end is now known durable.
        let active = &found.segments[&manifest.active()];
        let unproven = found.synced.min(found.end)..found.end;
        copy_range(active.as_ref(), unproven, active.as_ref(), 0)?;
        active.sync_data()?;
        let old_hint = manifest.hint;
        manifest.generation += 1;
        manifest.next_row = next_row;
        manifest.next_sequence = sequence;
        manifest.active_synced = found.end;
        if !found.hint_used {
            manifest.hint = 0;
        }
        manifest::store(manifest_file, manifest)?;
        // Orphans next (best effort: the next open removes what is left), the cut last: a
        // failure before the cut leaves the torn tail (and the damage a salvage moved aside)
        // for the next open to find and report again.
        let mut orphans = found.orphans.clone();
        if old_hint != 0 && manifest.hint == 0 {
            orphans.push(hint::name(old_hint));
        }
        let mut removed = false;
        for orphan in &orphans {
            removed |= storage.remove(orphan).is_ok();
        }
        if removed {
            storage.sync()?;
        }
        // The length is set even when it looks right: an earlier open's cut may have met a
        // failed sync.
        for &(id, offset, _) in &found.salvage {
            let file = &found.segments[&id];
            file.set_len(offset)?;
            file.sync_data()?;
        }
        active.set_len(found.end)?;
        active.sync_data()?;
        Ok(())
    }
}

fn salvage_name(segment: u64, offset: u64, generation: u64) -> String {
    format!("{SALVAGE_PREFIX}{segment:016x}-{offset:016x}-{generation:x}.bin")
}

/// Copies bytes `range` of `from` into `to`, shifted down by `shift`, in bounded pieces.
fn copy_range<F: File, G: File>(
    from: &F,
    range: std::ops::Range<u64>,
    to: &G,
    shift: u64,
) -> Result<()> {
    let mut at = range.start;
    while at < range.end {
        let piece = (range.end - at).min(WRITE_BUFFER as u64 * 16) as usize;
        let bytes = from.read_vec_at(at, piece)?;
        to.write_at(at - shift, &bytes)?;
        at += piece as u64;
    }
    Ok(())
}
