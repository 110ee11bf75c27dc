//! Hostile guests against the run's limits (memory, time, fuel, output, descriptors, special
//! files) and the store lock: each limit ends the guest with its own exit code, never the
//! host.

mod common;

use std::process::Command;
use std::time::Duration;

use common::guest::*;
use common::temp_dir;
use toonstore::store::{Options, Store};
use toonstore_host::{Stopped, exit_code as host_exit_code};

/// Runs a guest that must be stopped; why it was.
fn stopped(run: &toonstore_host::RunOptions) -> Stopped {
    let error = toonstore_host::run(run).expect_err("the guest was stopped");
    *error.downcast_ref::<Stopped>().unwrap_or_else(|| panic!("not a stop: {error:#}"))
}

fn spin() -> Vec<u8> {
    Wat::default().module("(loop $forever (br $forever))")
}

#[test]
fn memory_past_the_limit_stops_the_guest() {
    let root = temp_dir("max-memory");
    let grow = Wat::default().module("(drop (memory.grow (i32.const 1000)))");
    let mut run = options(&grow, &root);
    run.limits.max_memory = 16 << 20;
    assert_eq!(stopped(&run), Stopped::Memory);
    run.limits.max_memory = 128 << 20;
    assert_eq!(exit_code(&run).0, ESUCCESS, "64 MiB fits under 128 MiB");
    // Declared up front: refused at instantiation.
    let big = Wat::default().writes(600 << 16).module("");
    let mut run = options(&big, &root);
    run.limits.max_memory = 16 << 20;
    assert_eq!(stopped(&run), Stopped::Memory);
    // A second memory or a 64-bit one is not compiled at all.
    for extra in ["(memory $second 1)", "(memory $wide i64 1)"] {
        let run = options(&Wat::default().module_with("", extra), &root);
        let error = toonstore_host::run(&run).expect_err("refused");
        assert!(format!("{error:#}").contains("memor"), "{error:#}");
        assert_eq!(host_exit_code(&error), toonstore_host::limits::HOST_ERROR_EXIT);
    }
}

#[test]
fn a_timeout_stops_spinning_and_sleeping_guests() {
    let root = temp_dir("timeout");
    let sleep = Wat::default().module("(call $check (call $sleep (i64.const -1)))");
    for (what, wasm) in [("spinning", spin()), ("sleeping", sleep)] {
        let mut run = options(&wasm, &root);
        run.limits.timeout = Some(Duration::from_millis(300));
        // Never stopped, either guest would run forever: the stop itself is the check.
        assert_eq!(stopped(&run), Stopped::Timeout, "{what}");
    }
    // A sleep that ends before the deadline is a sleep.
    let nap = Wat::default().module("(call $check (call $sleep (i64.const 1000000)))");
    let mut run = options(&nap, &root);
    run.limits.timeout = Some(Duration::from_secs(30));
    assert_eq!(exit_code(&run).0, ESUCCESS);
}

#[test]
fn fuel_stops_a_spinning_guest() {
    let root = temp_dir("fuel-spin");
    let mut run = options(&spin(), &root);
    run.limits.fuel = Some(1_000_000);
    assert_eq!(stopped(&run), Stopped::Fuel);
}

#[test]
fn captured_output_is_bounded() {
    let root = temp_dir("max-output");
    let flood = Wat::default().writes(65536).module(
        "(loop $more (call $check (call $write (i32.const 1) (i32.const 65536))) (br $more))",
    );
    let mut run = options(&flood, &root);
    run.limits.max_output = 1 << 20;
    assert_eq!(stopped(&run), Stopped::Output);
}

#[test]
fn open_descriptors_are_limited() {
    for memory in [false, true] {
        let root = temp_dir("max-files");
        let mut wat = Wat::default();
        let f = wat.s("f");
        let wasm = wat.module(&format!(
            "(loop $more
               (local.set $e (call $try_open (i32.const 3) {f} (i32.const {O_CREAT}) (i32.const 0)))
               (if (local.get $e) (then (call $proc_exit (local.get $e))))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $more (i32.lt_u (local.get $i) (i32.const 10000))))
             (call $proc_exit (i32.const {NEVER_STOPPED}))"
        ));
        let mut run = options(&wasm, &root);
        run.memory = memory;
        run.limits.max_handles = 64;
        assert_eq!(exit_code(&run).0, EMFILE, "memory: {memory}");
    }
}

#[test]
fn special_files_are_not_opened() {
    // Opening a FIFO blocks until a writer comes: the host would hang with the guest.
    let root = temp_dir("fifo");
    let made = Command::new("mkfifo").arg(root.join("fifo")).status().unwrap();
    assert!(made.success());
    let mut wat = Wat::default();
    let fifo = wat.s("fifo");
    let wasm = wat.module(&format!(
        "(call $proc_exit (call $try_open (i32.const 3) {fifo} (i32.const 0) (i32.const 0)))"
    ));
    let mut run = options(&wasm, &root);
    run.limits.timeout = Some(Duration::from_secs(20));
    assert_eq!(exit_code(&run).0, EACCES);
}

#[test]
fn the_binary_exits_with_each_stops_code() {
    let root = temp_dir("binary-codes");
    let host = |wasm: &[u8], flags: &[&str]| {
        let run = options(wasm, &root);
        Command::new(env!("CARGO_BIN_EXE_toonstore-host"))
            .arg("run")
            .arg("--no-cache")
            .args(flags)
            .arg(&run.module)
            .stdin(std::process::Stdio::piped())
            .output()
            .unwrap()
    };
    let timed_out = host(&spin(), &["--timeout", "300ms"]);
    assert_eq!(
        timed_out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&timed_out.stderr)
    );
    assert!(String::from_utf8_lossy(&timed_out.stderr).contains("--timeout"));
    assert_eq!(host(&spin(), &["--fuel", "100000"]).status.code(), Some(129));
    let grow = Wat::default().module("(drop (memory.grow (i32.const 1000)))");
    assert_eq!(host(&grow, &["--max-memory", "16M"]).status.code(), Some(131));
    let trap = Wat::default().module("unreachable");
    assert_eq!(host(&trap, &[]).status.code(), Some(128));
    // A guest blocked reading an inherited stdin (a pipe nobody writes) cannot be reached at
    // the deadline; the binary ends itself a second later.
    let read = Wat::default().module(
        "(call $iovec (i32.const 16)) (drop (call $fd_read (i32.const 0) (i32.const 8) (i32.const 1) (i32.const 4)))",
    );
    let (stdin, _kept_open) = std::io::pipe().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_toonstore-host"))
        .args(["run", "--no-cache", "--timeout", "300ms"])
        .arg(&options(&read, &root).module)
        .stdin(stdin)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Without the exit it would wait on stdin forever.
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let help = Command::new(env!("CARGO_BIN_EXE_toonstore-host"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--max-memory") && help.contains("default is 1G"), "{help}");
}

/// A guest that opens `db/LOCK` for writing, then sleeps `ms`.
fn lock_holder(ms: u64) -> Vec<u8> {
    let mut wat = Wat::default();
    let (db, lock) = (wat.s("db"), wat.s("db/LOCK"));
    wat.module(&format!(
        "(drop (call $path_create_directory (i32.const 3) {db}))
         (local.set $fd (call $open (i32.const 3) {lock} (i32.const {O_CREAT}) (i32.const 0)))
         (call $check (call $sleep (i64.const {})))",
        ms * 1_000_000
    ))
}

#[test]
fn a_guest_and_a_native_process_never_write_one_store() {
    let root = temp_dir("store-lock");
    // A native writer holds the store: a guest opening its LOCK for writing is refused.
    let store = Store::open_dir(root.join("db"), Options::default()).unwrap();
    let run = options(&lock_holder(0), &root);
    assert_eq!(exit_code(&run).0, EAGAIN);
    // The store engine in the guest reports it as a locked store.
    let put = common::options(common::toonstore_wasm(), &root, &["--db", "db", "put", "k", "a: 1"]);
    let refused = toonstore_host::run(&put).unwrap();
    assert_eq!(refused.exit_code, 1);
    assert!(common::stderr(&refused).contains("locked"), "{}", common::stderr(&refused));
    store.close().unwrap();
    assert_eq!(common::run_ok(&put).exit_code, 0);
    // A guest holds it: a native open is refused until the guest is done.
    let holder = std::thread::spawn({
        let run = options(&lock_holder(1500), &root);
        move || exit_code(&run).0
    });
    std::thread::sleep(Duration::from_millis(500));
    let refused = Store::open_dir(root.join("db"), Options::default()).map(drop);
    assert!(matches!(refused, Err(toonstore::store::Error::Locked)), "{refused:?}");
    assert_eq!(holder.join().unwrap(), ESUCCESS);
    Store::open_dir(root.join("db"), Options::default()).unwrap().close().unwrap();
}

#[test]
fn a_poll_whose_clock_has_passed_returns_at_once_under_a_timeout() {
    let root = temp_dir("expired-poll");
    // Two clocks, one of them 0 ns: the poll returns at once, not at the deadline.
    let wasm = Wat::default().module(
        "(i64.store (i32.const 64) (i64.const 0))
         (i32.store8 (i32.const 72) (i32.const 0))
         (i32.store (i32.const 80) (i32.const 1))
         (i64.store (i32.const 88) (i64.const 0))
         (i64.store (i32.const 96) (i64.const 0))
         (i32.store16 (i32.const 104) (i32.const 0))
         (memory.copy (i32.const 112) (i32.const 64) (i32.const 48))
         (i64.store (i32.const 136) (i64.const -1))
         (call $check (call $poll_oneoff (i32.const 64) (i32.const 256) (i32.const 2) (i32.const 4)))",
    );
    let mut run = options(&wasm, &root);
    // Sleeping until the deadline instead would end in a Timeout stop, not an exit.
    run.limits.timeout = Some(Duration::from_secs(30));
    assert_eq!(exit_code(&run).0, ESUCCESS);
}
