//! What one run may use besides files, and how a guest that passes a limit is stopped.
//!
//! | Limit | Flag | Default | When passed |
//! |---|---|---|---|
//! | linear memory | `--max-memory` | [`DEFAULT_MAX_MEMORY`] | the guest stops, [`Stopped::Memory`] |
//! | memories, tables, elements per table, instances | fixed | 1, 4, 1,000,000, 1 | the same |
//! | buffers per read or write, subscriptions per poll | fixed | [`MAX_IOVECS`], [`MAX_SUBSCRIPTIONS`] | the call fails with `EINVAL` |
//! | wall-clock time | `--timeout` | none | the guest stops, [`Stopped::Timeout`] |
//! | fuel (about one unit per instruction) | `--fuel` | none | the guest stops, [`Stopped::Fuel`] |
//! | captured stdout and stderr, each | `RunOptions::limits` | [`DEFAULT_MAX_OUTPUT`] | the guest stops, [`Stopped::Output`] |
//! | open files and directories | `--max-files` | [`crate::shim::DEFAULT_MAX_HANDLES`] | the open fails with `EMFILE`, as on any OS |
//! | bytes and entries of its files | `--quota` | [`DEFAULT_MEMORY_QUOTA`] with `--memory` | the call fails with `ENOSPC` |
//!
//! The time limit stops wasm code through epoch interruption and sleeps (`poll_oneoff` on
//! clocks) through the run's scheduler, which never sleeps past the deadline. The host calls
//! that can still block are on inherited streams (a read of a stdin nobody writes, a write to
//! a full stdout pipe): the `toonstore-host` binary then exits a second after the deadline
//! ([`Limits::exit_when_stuck`]). Every stop ends the guest, never the host, and
//! has its own exit code ([`Stopped::exit_code`]), above the 0-125 a WASI guest can exit with.

use std::any::Any;
use std::io::IoSlice;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasi_common::file::{FdFlags, FileType};
use wasi_common::sched::{Poll, WasiSched};
use wasi_common::{Error, WasiFile};

/// Linear memory a guest may grow to unless the run says otherwise (wasm32 allows 4 GiB).
pub const DEFAULT_MAX_MEMORY: u64 = 2 << 30;
/// Bytes of stdout, and of stderr, a run collects when they are captured.
pub const DEFAULT_MAX_OUTPUT: u64 = 64 << 20;
/// The quota of memory directories when the run sets none: they live in host memory.
pub const DEFAULT_MEMORY_QUOTA: u64 = 1 << 30;
/// Elements each of a guest's tables may hold.
pub const MAX_TABLE_ELEMENTS: usize = 1_000_000;
/// Exit code of the `toonstore-host` binary when it could not run the module at all (bad
/// flags, a module that does not compile, a refused cache or directory, a failed dump).
pub const HOST_ERROR_EXIT: u8 = 126;

/// What a run may use.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Bytes of linear memory.
    pub max_memory: u64,
    /// Wall-clock time from the start of the guest.
    pub timeout: Option<Duration>,
    /// Fuel, about one unit per wasm instruction.
    pub fuel: Option<u64>,
    /// Files and directories open at once.
    pub max_handles: u64,
    /// Bytes of captured stdout, and of captured stderr.
    pub max_output: u64,
    /// End the process when the guest is still in a host call a second after the deadline
    /// (only a read of an inherited stdin blocks that long): what the binary wants, not an
    /// embedder.
    pub exit_when_stuck: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_memory: DEFAULT_MAX_MEMORY,
            timeout: None,
            fuel: None,
            max_handles: crate::shim::DEFAULT_MAX_HANDLES,
            max_output: DEFAULT_MAX_OUTPUT,
            exit_when_stuck: false,
        }
    }
}

/// The most buffers one read or write may name (Linux's `IOV_MAX`). wasi-common copies a
/// call's buffer list into host vectors before looking at it, about 40 bytes per entry: a
/// guest naming 2^28 of them would make the host allocate gigabytes.
pub const MAX_IOVECS: u32 = 1024;
/// The most subscriptions one `poll_oneoff` may name, for the same reason.
pub const MAX_SUBSCRIPTIONS: u32 = 4096;
/// WASI's `EINVAL`.
const EINVAL: i32 = 28;

/// Puts a bound on the arrays a guest hands wasi-common (see [`MAX_IOVECS`]): each call that
/// takes one (every `iovec_array`, `ciovec_array` and subscription list of the witx) is
/// redefined as a check followed by wasi-common's own implementation (the same
/// function its linker glue calls, with the same memory and context).
pub(crate) fn bound_array_calls<T: 'static>(
    linker: &mut wasmtime::Linker<T>,
    wasi: fn(&mut T) -> &mut wasi_common::WasiCtx,
) -> anyhow::Result<()> {
    use wasi_common::snapshots::{
        preview_0::wasi_unstable as p0, preview_1::wasi_snapshot_preview1 as p1,
    };
    use wasmtime::{Caller, Extern};

    /// The guest's memory and WASI context, as wiggle's glue finds them.
    fn parts<'a, T>(
        caller: &'a mut Caller<'_, T>,
        wasi: fn(&mut T) -> &mut wasi_common::WasiCtx,
    ) -> anyhow::Result<(wiggle::GuestMemory<'a>, &'a mut wasi_common::WasiCtx)> {
        let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
            anyhow::bail!("missing required memory export");
        };
        let (bytes, data) = memory.data_and_store_mut(caller);
        Ok((wiggle::GuestMemory::Unshared(bytes), wasi(data)))
    }

    macro_rules! bounded {
        ($module:literal, $snapshot:ident, $name:ident, $max:expr, ($($arg:ident: $ty:ty),*), $count:ident) => {
            linker.func_wrap($module, stringify!($name), move |mut caller: Caller<'_, T>, $($arg: $ty),*| {
                if $count as u32 > $max {
                    return Ok(EINVAL);
                }
                let (mut memory, ctx) = parts(&mut caller, wasi)?;
                wiggle::run_in_dummy_executor($snapshot::$name(ctx, &mut memory, $($arg),*))?
            })?;
        };
    }
    linker.allow_shadowing(true);
    bounded!("wasi_snapshot_preview1", p1, fd_read, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, out: i32), count);
    bounded!("wasi_snapshot_preview1", p1, fd_write, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, out: i32), count);
    bounded!("wasi_snapshot_preview1", p1, fd_pread, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, at: i64, out: i32), count);
    bounded!("wasi_snapshot_preview1", p1, fd_pwrite, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, at: i64, out: i32), count);
    bounded!("wasi_snapshot_preview1", p1, poll_oneoff, MAX_SUBSCRIPTIONS, (subs: i32, events: i32, count: i32, out: i32), count);
    // The socket calls take buffer lists too (and copy them before finding no socket).
    bounded!("wasi_snapshot_preview1", p1, sock_recv, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, flags: i32, out: i32, out_flags: i32), count);
    bounded!("wasi_snapshot_preview1", p1, sock_send, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, flags: i32, out: i32), count);
    bounded!("wasi_unstable", p0, fd_read, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, out: i32), count);
    bounded!("wasi_unstable", p0, fd_write, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, out: i32), count);
    bounded!("wasi_unstable", p0, fd_pread, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, at: i64, out: i32), count);
    bounded!("wasi_unstable", p0, fd_pwrite, MAX_IOVECS, (fd: i32, iovs: i32, count: i32, at: i64, out: i32), count);
    bounded!("wasi_unstable", p0, poll_oneoff, MAX_SUBSCRIPTIONS, (subs: i32, events: i32, count: i32, out: i32), count);
    linker.allow_shadowing(false);
    Ok(())
}

/// Why a guest stopped before it exited: in the chain of the error [`crate::run`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// A wasm trap (unreachable, out of bounds, stack overflow) or a failed host call.
    Trapped,
    Fuel,
    Timeout,
    /// Memory, tables or instances.
    Memory,
    Output,
}

impl Stopped {
    /// The `toonstore-host` binary's exit code for this stop.
    pub fn exit_code(self) -> u8 {
        match self {
            Stopped::Trapped => 128,
            Stopped::Fuel => 129,
            Stopped::Timeout => 130,
            Stopped::Memory => 131,
            Stopped::Output => 132,
        }
    }

    /// Why the guest behind `error` stopped, `limit_hit` telling whether the memory limiter
    /// refused a growth.
    pub(crate) fn of(error: &anyhow::Error, limit_hit: bool) -> Stopped {
        if let Some(stopped) = error.downcast_ref::<Stopped>() {
            return *stopped;
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::OutOfFuel) => return Stopped::Fuel,
            Some(wasmtime::Trap::Interrupt) => return Stopped::Timeout,
            _ => {}
        }
        let resources = format!("{error:#}").contains("resource limit exceeded");
        match limit_hit || resources {
            true => Stopped::Memory,
            false => Stopped::Trapped,
        }
    }
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stopped::Trapped => "the guest trapped",
            Stopped::Fuel => "the guest ran out of fuel (--fuel)",
            Stopped::Timeout => "the guest ran past its time limit (--timeout)",
            Stopped::Memory => {
                "the guest passed its memory, table or instance limit (--max-memory)"
            }
            Stopped::Output => "the guest's captured output passed its limit",
        })
    }
}

impl std::error::Error for Stopped {}

/// The wasmtime limiter of a run's store: memory as the run says, tables and instances fixed.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub max_memory: usize,
    /// A growth was refused.
    pub hit: bool,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> anyhow::Result<bool> {
        if desired > self.max_memory {
            self.hit = true;
            anyhow::bail!(
                "the guest's memory would grow to {desired} bytes, past the limit of {}",
                self.max_memory
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> anyhow::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.hit = true;
            anyhow::bail!("a table would grow to {desired} elements, past {MAX_TABLE_ELEMENTS}");
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}

/// The scheduler of a run: wasi-common's, except that no sleep outlasts the run's deadline
/// (the guest is stopped there instead).
pub(crate) struct DeadlineSched {
    pub inner: Box<dyn WasiSched>,
    pub deadline: Option<Instant>,
}

impl DeadlineSched {
    fn timed_out() -> Error {
        Error::trap(anyhow::Error::new(Stopped::Timeout))
    }

    /// Time left before the deadline, if there is one.
    fn left(&self) -> Option<Duration> {
        self.deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }
}

#[async_trait::async_trait]
impl WasiSched for DeadlineSched {
    async fn poll_oneoff<'a>(&self, poll: &mut Poll<'a>) -> Result<(), Error> {
        // A poll on clocks alone is a sleep: cut it at the deadline. (A poll that also waits
        // on files waits on an inherited stdin at most; see the module comment.)
        if let Some(left) = self.left()
            && poll.rw_subscriptions().next().is_none()
            && let Some(clock) = poll.earliest_clock_deadline()
            && clock.duration_until().is_some_and(|until| until >= left)
        {
            std::thread::sleep(left);
            return Err(DeadlineSched::timed_out());
        }
        self.inner.poll_oneoff(poll).await
    }

    async fn sched_yield(&self) -> Result<(), Error> {
        self.inner.sched_yield().await
    }

    async fn sleep(&self, duration: Duration) -> Result<(), Error> {
        match self.left() {
            Some(left) if left <= duration => {
                std::thread::sleep(left);
                Err(DeadlineSched::timed_out())
            }
            _ => self.inner.sleep(duration).await,
        }
    }
}

/// A captured stdout or stderr that holds at most `limit` bytes; a write past it stops the
/// guest ([`Stopped::Output`]).
#[derive(Clone, Debug)]
pub(crate) struct CapturedOutput {
    pub bytes: Arc<Mutex<Vec<u8>>>,
    pub limit: u64,
}

impl CapturedOutput {
    pub fn new(limit: u64) -> CapturedOutput {
        CapturedOutput { bytes: Arc::default(), limit }
    }

    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait::async_trait]
impl WasiFile for CapturedOutput {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn get_filetype(&self) -> Result<FileType, Error> {
        Ok(FileType::Pipe)
    }

    async fn get_fdflags(&self) -> Result<FdFlags, Error> {
        Ok(FdFlags::APPEND)
    }

    async fn write_vectored<'a>(&self, bufs: &[IoSlice<'a>]) -> Result<u64, Error> {
        let mut bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        let len: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        if (bytes.len() as u64).saturating_add(len) > self.limit {
            return Err(Error::trap(anyhow::Error::new(Stopped::Output)));
        }
        for buf in bufs {
            bytes.extend_from_slice(buf);
        }
        Ok(len)
    }

    async fn writable(&self) -> Result<(), Error> {
        Ok(())
    }
}
