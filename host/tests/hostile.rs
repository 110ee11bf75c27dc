//! Hostile guests against the filesystem shim, one per finding of the host's security review
//! (`../shared/reviews/host-security.md`): each calls WASI preview 1 directly, on real and
//! memory directories, and must be held to its quota and its directories without crashing
//! the host.

mod common;

use common::guest::*;
use common::temp_dir;
use toonstore_host::RunOptions;

const QUOTA: u64 = 256 * 1024;
const QUARTER: u32 = 64 * 1024;

fn modes() -> [(bool, &'static str); 2] {
    [(false, "real"), (true, "memory")]
}

/// Runs `wasm` on a fresh directory under `QUOTA`; the exit code, the quota's count, and
/// the directory (real mode: what the guest left on the host).
fn under_quota(name: &str, memory: bool, wasm: &[u8]) -> (i32, u64, std::path::PathBuf) {
    let root = temp_dir(name);
    let mut run = options(wasm, &root);
    run.quota = Some(QUOTA);
    run.memory = memory;
    let (code, outcome) = exit_code(&run);
    let (used, limit) = outcome.stats.quota.unwrap();
    assert!(used <= limit, "{name}: {used} of {limit} used");
    (code, used, root)
}

#[test]
fn renaming_a_file_onto_itself_gives_nothing_back() {
    // Finding 1: each round writes a quarter of the quota to a new file, then renames it
    // onto itself; the fifth round must not fit.
    for (memory, mode) in modes() {
        let mut wat = Wat::default();
        let name = wat.s("fA");
        let letter = Wat::addr(&name) + 1;
        let wasm = wat.writes(QUARTER).module(&format!(
            "(loop $round
               (i32.store8 (i32.const {letter}) (i32.add (i32.const 65) (local.get $i)))
               (local.set $fd (call $open (i32.const 3) {name} (i32.const {O_CREAT}) (i32.const 0)))
               (call $check (call $write (local.get $fd) (i32.const {QUARTER})))
               (call $check (call $rename {name} {name}))
               (call $check (call $fd_close (local.get $fd)))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $round (i32.lt_u (local.get $i) (i32.const 16))))
             (call $proc_exit (i32.const {NEVER_STOPPED}))"
        ));
        let (code, _, root) = under_quota(&format!("rename-self-{mode}"), memory, &wasm);
        assert_eq!(code, ENOSPC, "{mode}: the quota never stopped the guest");
        if !memory {
            assert!(bytes_on_disk(&root) <= QUOTA, "{}", bytes_on_disk(&root));
        }
    }
}

#[test]
fn renaming_over_a_linked_file_keeps_the_link_charged() {
    // Finding 1 (variant, real directories: memory ones have no hard links): `a` gets a
    // second name, then another file replaces `a`; the bytes stay reachable through it.
    let mut wat = Wat::default();
    let (a, c, link) = (wat.s("a"), wat.s("c"), wat.s("bA"));
    let letter = Wat::addr(&link) + 1;
    let wasm = wat.writes(QUARTER).module(&format!(
        "(loop $round
           (i32.store8 (i32.const {letter}) (i32.add (i32.const 65) (local.get $i)))
           (local.set $fd (call $open (i32.const 3) {a} (i32.const {O_CREAT}) (i32.const 0)))
           (call $check (call $write (local.get $fd) (i32.const {QUARTER})))
           (call $check (call $fd_close (local.get $fd)))
           (call $check (call $path_link (i32.const 3) (i32.const 0) {a} (i32.const 3) {link}))
           (call $check (call $fd_close (call $open (i32.const 3) {c} (i32.const {O_CREAT}) (i32.const 0))))
           (call $check (call $rename {c} {a}))
           (local.set $i (i32.add (local.get $i) (i32.const 1)))
           (br_if $round (i32.lt_u (local.get $i) (i32.const 16))))
         (call $proc_exit (i32.const {NEVER_STOPPED}))"
    ));
    let (code, _, root) = under_quota("rename-link", false, &wasm);
    assert_eq!(code, ENOSPC, "the quota never stopped the guest");
    assert!(bytes_on_disk(&root) <= QUOTA, "{}", bytes_on_disk(&root));
}

#[test]
fn positional_writes_to_an_appending_file_are_charged() {
    // Finding 2: on Linux `pwrite` to an O_APPEND file appends whatever the offset.
    for (memory, mode) in modes() {
        let mut wat = Wat::default();
        let log = wat.s("log");
        let wasm = wat.writes(QUARTER).module(&format!(
            "(local.set $fd (call $open (i32.const 3) {log} (i32.const {O_CREAT}) (i32.const {FD_APPEND})))
             (loop $round
               (call $check (call $pwrite (local.get $fd) (i32.const {QUARTER}) (i64.const 0)))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $round (i32.lt_u (local.get $i) (i32.const 16))))
             (call $proc_exit (i32.const {NEVER_STOPPED}))"
        ));
        let (code, used, root) = under_quota(&format!("append-pwrite-{mode}"), memory, &wasm);
        match memory {
            // A memory file writes at the offset: the file never grows past a quarter.
            true => assert_eq!((code, used), (NEVER_STOPPED, 4096 + u64::from(QUARTER))),
            false => {
                assert_eq!(code, ENOSPC, "{mode}: the quota never stopped the guest");
                assert!(bytes_on_disk(&root) <= QUOTA, "{}", bytes_on_disk(&root));
            }
        }
    }
}

#[test]
fn unlinked_files_stay_charged_while_open() {
    // Finding 3: the guest keeps every handle of files it unlinks; the disk (or host memory)
    // keeps their bytes, so the quota must too, until they close.
    for (memory, mode) in modes() {
        let mut wat = Wat::default();
        let x = wat.s("x");
        let wasm = wat.writes(QUARTER).module(&format!(
            "(loop $round
               (local.set $fd (call $open (i32.const 3) {x} (i32.const {O_CREAT}) (i32.const 0)))
               (call $check (call $write (local.get $fd) (i32.const {QUARTER})))
               (call $check (call $path_unlink_file (i32.const 3) {x}))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $round (i32.lt_u (local.get $i) (i32.const 16))))
             (call $proc_exit (i32.const {NEVER_STOPPED}))"
        ));
        let (code, _, _) = under_quota(&format!("unlink-open-{mode}"), memory, &wasm);
        assert_eq!(code, ENOSPC, "{mode}: the quota never stopped the guest");
    }
    // Closed, they give their bytes back: a file unlinked and closed 16 times fits.
    for (memory, mode) in modes() {
        let mut wat = Wat::default();
        let x = wat.s("x");
        let wasm = wat.writes(QUARTER).module(&format!(
            "(loop $round
               (local.set $fd (call $open (i32.const 3) {x} (i32.const {O_CREAT}) (i32.const 0)))
               (call $check (call $write (local.get $fd) (i32.const {QUARTER})))
               (call $check (call $path_unlink_file (i32.const 3) {x}))
               (call $check (call $fd_close (local.get $fd)))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $round (i32.lt_u (local.get $i) (i32.const 16))))"
        ));
        let (code, used, _) = under_quota(&format!("unlink-closed-{mode}"), memory, &wasm);
        assert_eq!((code, used), (ESUCCESS, 0), "{mode}");
    }
}

#[test]
fn names_directories_and_empty_files_are_charged() {
    // Finding 9: a block per name, so creating names stops at the quota too.
    for (what, call) in [
        ("dirs", "(call $check (call $path_create_directory (i32.const 3) NAME))"),
        (
            "files",
            "(call $check (call $fd_close (call $open (i32.const 3) NAME (i32.const 1) (i32.const 0))))",
        ),
    ] {
        for (memory, mode) in modes() {
            let mut wat = Wat::default();
            let name = wat.s("nAA");
            let at = Wat::addr(&name);
            let wasm = wat.module(&format!(
                "(loop $round
                   (i32.store8 (i32.const {}) (i32.add (i32.const 65) (i32.rem_u (local.get $i) (i32.const 26))))
                   (i32.store8 (i32.const {}) (i32.add (i32.const 65) (i32.div_u (local.get $i) (i32.const 26))))
                   {}
                   (local.set $i (i32.add (local.get $i) (i32.const 1)))
                   (br_if $round (i32.lt_u (local.get $i) (i32.const 500))))
                 (call $proc_exit (i32.const {NEVER_STOPPED}))",
                at + 1,
                at + 2,
                call.replace("NAME", &name)
            ));
            let (code, used, _) = under_quota(&format!("entries-{what}-{mode}"), memory, &wasm);
            assert_eq!((code, used), (ENOSPC, QUOTA), "{what} {mode}");
        }
    }
}

#[test]
fn huge_offsets_fail_without_crashing_the_host() {
    // Finding 7: offsets near u64::MAX overflowed in the shim (a panic); a write at 1 TiB to
    // a memory file asked the allocator for 1 TiB (an abort).
    for (memory, mode) in modes() {
        for quota in [None, Some(QUOTA)] {
            let mut wat = Wat::default();
            let f = wat.s("f");
            let wasm = wat.module(&format!(
                "(local.set $fd (call $open (i32.const 3) {f} (i32.const {O_CREAT}) (i32.const 0)))
                 (call $proc_exit (call $pwrite (local.get $fd) (i32.const 5) (i64.const -5)))"
            ));
            let root = temp_dir(&format!("huge-offset-{mode}"));
            let mut run = options(&wasm, &root);
            (run.memory, run.quota) = (memory, quota);
            assert_eq!(exit_code(&run).0, EFBIG, "{mode} {quota:?}");
        }
    }
    // Without a quota a memory directory has the default one: 1 TiB does not fit.
    for call in [
        "(call $pwrite (local.get $fd) (i32.const 1) (i64.const 0x10000000000))",
        "(call $fd_filestat_set_size (local.get $fd) (i64.const 0x10000000000))",
    ] {
        let mut wat = Wat::default();
        let f = wat.s("f");
        let wasm = wat.module(&format!(
            "(local.set $fd (call $open (i32.const 3) {f} (i32.const {O_CREAT}) (i32.const 0)))
             (call $proc_exit {call})"
        ));
        let root = temp_dir("huge-memory-file");
        let mut run = options(&wasm, &root);
        run.memory = true;
        assert_eq!(exit_code(&run).0, ENOSPC, "{call}");
    }
}

#[test]
fn deep_memory_trees_are_refused_and_never_crash_the_host() {
    // Finding 7: 100,000 nested directories, then a file renamed over the top one, used to
    // drop the whole chain recursively and overflow the host's stack.
    let mut wat = Wat::default();
    let (d, f) = (wat.s("d"), wat.s("f"));
    let wasm = wat.module(&format!(
        "(local.set $d (i32.const 3))
         (block $refused
           (loop $deeper
             (br_if $refused (call $path_create_directory (local.get $d) {d}))
             (br_if $refused (call $try_open (local.get $d) {d} (i32.const {O_DIRECTORY}) (i32.const 0)))
             (if (i32.ne (local.get $d) (i32.const 3)) (then (call $check (call $fd_close (local.get $d)))))
             (local.set $d (i32.load (i32.const 0)))
             (local.set $i (i32.add (local.get $i) (i32.const 1)))
             (br_if $deeper (i32.lt_u (local.get $i) (i32.const 100000))))
           (call $proc_exit (i32.const {NEVER_STOPPED})))
         (call $check (call $fd_close (call $open (i32.const 3) {f} (i32.const {O_CREAT}) (i32.const 0))))
         (call $proc_exit (call $rename {f} {d}))"
    ));
    let root = temp_dir("deep-memory");
    let mut run = options(&wasm, &root);
    run.memory = true;
    assert_eq!(exit_code(&run).0, EISDIR, "a file replaced a non-empty directory");
}

#[test]
fn a_directory_handle_syncs_the_directory_it_holds() {
    // Finding 6: a sub-directory handle synced by re-resolving its host path, which the
    // guest can point outside (here at `victim`, beside the preopen) after opening it.
    let root = temp_dir("stale-handle");
    let inside = root.join("inside");
    let victim = root.join("victim");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::create_dir_all(&victim).unwrap();
    let mut wat = Wat::default();
    let (real, s, escape, a, ab) =
        (wat.s("real"), wat.s("s"), wat.s("../victim"), wat.s("a"), wat.s("a/b"));
    let wasm = wat.module(&format!(
        "(call $check (call $path_create_directory (i32.const 3) {real}))
         (call $check (call $path_symlink {real} (i32.const 3) {s}))
         (local.set $d (call $open (i32.const 3) {s} (i32.const {O_DIRECTORY}) (i32.const 0)))
         (call $check (call $path_unlink_file (i32.const 3) {s}))
         (call $check (call $path_symlink {escape} (i32.const 3) {s}))
         (call $check (call $path_create_directory (local.get $d) {a}))
         (call $proc_exit (call $path_create_directory (local.get $d) {ab}))"
    ));
    let run = options(&wasm, &inside);
    assert_eq!(exit_code(&run).0, ESUCCESS, "the host looked outside the preopen");
    assert!(inside.join("real/a/b").is_dir());
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_dump_never_follows_a_symlink_the_guest_planted() {
    // Finding 5: a real-directory run plants `notes -> ../outside/victim`; a later memory
    // run dumped into the same directory must not write through it.
    let root = temp_dir("dump-symlink");
    let inside = root.join("inside");
    let outside = root.join("outside");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("victim"), "precious").unwrap();
    std::fs::write(inside.join("kept"), "old").unwrap();
    std::fs::write(inside.join("deleted"), "old").unwrap();

    let mut wat = Wat::default();
    let (target, notes) = (wat.s("../outside/victim"), wat.s("notes"));
    let plant =
        wat.module(&format!("(call $check (call $path_symlink {target} (i32.const 3) {notes}))"));
    assert_eq!(exit_code(&options(&plant, &inside)).0, ESUCCESS);
    assert!(inside.join("notes").is_symlink());

    let mut wat = Wat::default();
    let (notes, deleted) = (wat.s("notes"), wat.s("deleted"));
    let write = wat.module(&format!(
        "(local.set $fd (call $open (i32.const 3) {notes} (i32.const {O_CREAT}) (i32.const 0)))
         (call $check (call $write (local.get $fd) (i32.const 16)))
         (call $check (call $path_unlink_file (i32.const 3) {deleted}))"
    ));
    let mut run = options(&write, &inside);
    run.memory = true;
    run.dump = Some(inside.clone());
    assert_eq!(exit_code(&run).0, ESUCCESS);
    assert_eq!(std::fs::read_to_string(outside.join("victim")).unwrap(), "precious");
    assert!(!inside.join("notes").is_symlink());
    assert_eq!(std::fs::read(inside.join("notes")).unwrap(), vec![0; 16]);
    assert_eq!(std::fs::read_to_string(inside.join("kept")).unwrap(), "old");
    assert!(!inside.join("deleted").exists(), "the dump kept a file the guest deleted");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn memory_directories_rename_as_posix_does() {
    // Finding 11: a file replaced a non-empty directory, a directory moved into itself.
    let cases: [(&str, &[&str], &str, &str, i32); 4] = [
        ("file over a directory", &["d/", "d/x", "f"], "f", "d", EISDIR),
        ("directory over a file", &["d/", "f"], "d", "f", ENOTDIR),
        ("directory over a non-empty one", &["d/", "e/", "e/x"], "d", "e", ENOTEMPTY),
        ("directory into itself", &["d/", "d/e/"], "d", "d/e/f", EINVAL),
    ];
    for (case, make, from, to, expected) in cases {
        let mut wat = Wat::default();
        let mut body = String::new();
        for entry in make {
            body += &match entry.strip_suffix('/') {
                Some(dir) => format!(
                    "(call $check (call $path_create_directory (i32.const 3) {}))\n",
                    wat.s(dir)
                ),
                None => format!(
                    "(call $check (call $fd_close (call $open (i32.const 3) {} (i32.const {O_CREAT}) (i32.const 0))))\n",
                    wat.s(entry)
                ),
            };
        }
        let (from, to) = (wat.s(from), wat.s(to));
        body += &format!("(call $proc_exit (call $rename {from} {to}))");
        for (memory, mode) in modes() {
            let root = temp_dir(&format!("rename-{mode}"));
            let mut run = options(&wat.module(&body), &root);
            run.memory = memory;
            assert_eq!(exit_code(&run).0, expected, "{case} ({mode})");
        }
    }
}

#[test]
fn a_moved_directory_knows_its_new_parent() {
    // Finding 11: `..` of a moved memory directory still led to its old parent. (cap-std
    // refuses `..` above a real directory handle: EPERM there.)
    for (memory, mode) in modes() {
        let mut wat = Wat::default();
        let (a, b, ac, bc, up) =
            (wat.s("a"), wat.s("b"), wat.s("a/c"), wat.s("b/c"), wat.s("../x"));
        let wasm = wat.module(&format!(
            "(call $check (call $path_create_directory (i32.const 3) {a}))
             (call $check (call $path_create_directory (i32.const 3) {b}))
             (call $check (call $path_create_directory (i32.const 3) {ac}))
             (local.set $d (call $open (i32.const 3) {ac} (i32.const {O_DIRECTORY}) (i32.const 0)))
             (call $check (call $rename {ac} {bc}))
             (call $check (call $fd_close (call $open (local.get $d) {up} (i32.const {O_CREAT}) (i32.const 0))))"
        ));
        let root = temp_dir(&format!("moved-parent-{mode}"));
        let dump =
            root.with_file_name(format!("{}-dump", root.file_name().unwrap().to_string_lossy()));
        let mut run = options(&wasm, &root);
        if memory {
            run.memory = true;
            run.dump = Some(dump.clone());
        }
        if !memory {
            assert_eq!(exit_code(&run).0, EPERM);
            continue;
        }
        assert_eq!(exit_code(&run).0, ESUCCESS);
        assert!(dump.join("b/x").is_file() && !dump.join("a/x").exists());
        let _ = std::fs::remove_dir_all(dump);
    }
}

#[test]
fn names_are_checked_as_a_file_system_would() {
    // Finding 11: memory directories took names with NUL and of any length.
    let long = "n".repeat(256);
    for (name, expected) in [("a\0b", EINVAL), (&long[..], ENAMETOOLONG), (&long[..255], ESUCCESS)]
    {
        for (memory, mode) in modes() {
            let mut wat = Wat::default();
            let name_ = wat.s(name);
            let wasm = wat.module(&format!(
                "(call $proc_exit (call $try_open (i32.const 3) {name_} (i32.const {O_CREAT}) (i32.const 0)))"
            ));
            let root = temp_dir(&format!("names-{mode}"));
            let dump = root
                .with_file_name(format!("{}-dump", root.file_name().unwrap().to_string_lossy()));
            let mut run: RunOptions = options(&wasm, &root);
            if memory {
                run.memory = true;
                run.dump = Some(dump.clone());
            }
            assert_eq!(exit_code(&run).0, expected, "{} bytes ({mode})", name.len());
            let _ = std::fs::remove_dir_all(dump);
        }
    }
}

#[test]
fn start_up_counts_what_is_there_as_the_shim_does() {
    // Finding 12: the usage a run starts with, counted with checked arithmetic, by the same
    // rule as every call after: a block per name, a file's blocks once.
    let root = temp_dir("start-up-usage");
    std::fs::write(root.join("a"), vec![1; 5000]).unwrap();
    std::fs::hard_link(root.join("a"), root.join("b")).unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    std::os::unix::fs::symlink("a", root.join("s")).unwrap();
    let idle = Wat::default().module("");
    for (memory, expected) in [
        // a, b, d, s: four names; a's 5000 bytes are two blocks.
        (false, 4 * 4096 + 8192),
        // Loading copies files (b is a file of its own) and skips symlinks.
        (true, 3 * 4096 + 2 * 8192),
    ] {
        let mut run = options(&idle, &root);
        run.quota = Some(QUOTA);
        run.memory = memory;
        let (code, outcome) = exit_code(&run);
        assert_eq!((code, outcome.stats.quota), (ESUCCESS, Some((expected, QUOTA))), "{memory}");
    }
}

#[test]
fn long_paths_and_long_buffer_lists_are_refused_before_the_host_copies_them() {
    // Review, second round: a path of gigabytes was split into a vector of components, and a
    // list of 2^28 buffers copied into host vectors, before any check.
    for (memory, mode) in modes() {
        let mut wat = Wat::default();
        let long = wat.s(&"a/".repeat(2100));
        let f = wat.s("f");
        let wasm = wat.module(&format!(
            "(local.set $e (call $try_open (i32.const 3) {long} (i32.const {O_CREAT}) (i32.const 0)))
             (if (i32.ne (local.get $e) (i32.const {ENAMETOOLONG})) (then (call $proc_exit (local.get $e))))
             (local.set $fd (call $open (i32.const 3) {f} (i32.const {O_CREAT}) (i32.const 0)))
             (local.set $e (call $fd_write (local.get $fd) (i32.const 8) (i32.const 2000) (i32.const 4)))
             (if (i32.ne (local.get $e) (i32.const {EINVAL})) (then (call $proc_exit (i32.const 101))))
             ;; sock_send copies its list before it finds no socket: bounded too.
             (call $proc_exit (call $sock_send (i32.const 1) (i32.const 8) (i32.const 2000) (i32.const 0) (i32.const 4)))"
        ));
        let root = temp_dir(&format!("long-args-{mode}"));
        let mut run = options(&wasm, &root);
        run.memory = memory;
        assert_eq!(exit_code(&run).0, EINVAL, "{mode}");
    }
}

#[test]
fn a_dump_never_leaves_its_directory_nor_replaces_a_store_in_use() {
    let root = temp_dir("dump-contained");
    let dump = root.join("dump");
    let outside = root.join("outside");
    std::fs::create_dir_all(&dump).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("kept"), "precious").unwrap();
    // A symlink inside the dump directory, as a guest of an earlier real run could plant.
    std::os::unix::fs::symlink("../outside", dump.join("x")).unwrap();
    let mut wat = Wat::default();
    let f = wat.s("f");
    let wasm = wat.module(&format!(
        "(drop (call $try_open (i32.const 3) {f} (i32.const {O_CREAT}) (i32.const 0)))"
    ));
    let mut run = options(&wasm, &root.join("unused"));
    run.dirs = ["/x/y", "/z"]
        .map(|guest| toonstore_host::Preopen { host: root.join("empty"), guest: guest.into() })
        .to_vec();
    run.memory = true;
    run.dump = Some(dump.clone());
    assert!(toonstore_host::run(&run).is_err(), "the dump followed x");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    assert_eq!(std::fs::read_to_string(outside.join("kept")).unwrap(), "precious");

    // A store in the dump directory that a native writer holds is left alone.
    std::fs::remove_file(dump.join("x")).unwrap();
    let store = toonstore::store::Store::open_dir(dump.join("app"), Default::default()).unwrap();
    store.put("k", "a: 1").unwrap();
    let before = common::files_under(&dump);
    let mut run = options(&wasm, &dump);
    run.memory = true;
    run.dump = Some(dump.clone());
    let error = toonstore_host::run(&run).unwrap_err();
    assert!(format!("{error:#}").contains("open by another writer"), "{error:#}");
    assert!(common::files_under(&dump) == before, "the dump replaced a store in use");
    store.close().unwrap();
    let outcome = toonstore_host::run(&run).unwrap();
    assert_eq!(outcome.exit_code, 0);
    assert!(dump.join("f").is_file() && dump.join("app/LOCK").is_file());

    // Several directories: a store in use in one leaves every one as it was.
    let several = root.join("several");
    std::fs::create_dir_all(several.join("x")).unwrap();
    std::fs::write(several.join("x/old"), "old").unwrap();
    let store =
        toonstore::store::Store::open_dir(several.join("y/app"), Default::default()).unwrap();
    let before = common::files_under(&several);
    let mut run = options(&wasm, &root.join("unused"));
    run.dirs = ["/x", "/y"]
        .map(|guest| toonstore_host::Preopen { host: root.join("empty"), guest: guest.into() })
        .to_vec();
    run.memory = true;
    run.dump = Some(several.clone());
    assert!(toonstore_host::run(&run).is_err());
    let after = common::files_under(&several);
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert!(after == before, "one directory was swapped in: {:?}", names(&after));
    store.close().unwrap();
    // Directories that would dump into one another are refused before anything runs.
    run.dirs[1].guest = "/x/inner".into();
    let error = toonstore_host::run(&run).unwrap_err();
    assert!(format!("{error:#}").contains("would dump into one another"), "{error:#}");
}

#[test]
fn a_memory_directory_loads_only_what_fits_its_quota() {
    let root = temp_dir("load-budget");
    std::fs::write(root.join("big"), vec![0; 2 << 20]).unwrap();
    let mut run = options(&Wat::default().module(""), &root);
    run.memory = true;
    run.quota = Some(1 << 20);
    let error = toonstore_host::run(&run).unwrap_err();
    assert!(format!("{error:#}").contains("does not fit in the quota"), "{error:#}");
    run.quota = Some(4 << 20);
    assert_eq!(exit_code(&run).0, ESUCCESS);
}
