//! Linux backend: `FUTEX_WAIT_BITSET` with an absolute deadline on the deadline's own clock.
//!
//! `FUTEX_WAIT_BITSET` measures an absolute timeout against `CLOCK_MONOTONIC`, or against
//! `CLOCK_REALTIME` when `FUTEX_CLOCK_REALTIME` is set, so a wall-clock deadline follows
//! `settimeofday` even while the thread is blocked: the sleep ends when the wall clock reaches
//! the deadline. (OpenBSD's `thrsleep` converts its deadline into a relative timeout on entry
//! instead, so there a clock change moves nothing; the portable parker re-measures only at
//! each return. See `docs/platforms.md`.)
//!
//! **32-bit `time_t`** (i686, armv7 with glibc): `libc::timespec` cannot hold a deadline past
//! January 2038, and casting one would wrap (`i64::MAX` seconds became -1, which the kernel
//! rejects with `EINVAL`). There the wait uses `futex_time64` (Linux 5.1 on), whose timespec
//! has 64-bit fields, so the absolute deadline reaches the kernel unchanged. On an older
//! kernel (`ENOSYS`) the wait falls back, once and for the rest of the process, to a relative
//! `FUTEX_WAIT` of the time left, clamped to what `time_t` holds and re-measured after every
//! return: never early, no busy loop, but like the portable parker a wall-clock change made
//! while blocked is seen only at the next return.
//!
//! Any error the kernel should never give for a live word and a valid timespec (`EINVAL`,
//! `EFAULT`, `ENOSYS` on 64-bit) aborts the process: treating it as a spurious return would
//! busy-loop, treating it as a timeout would end a sleep early, and unwinding is not an option
//! while this thread's waiter node is queued on its stack.

use super::{Blocked, SLEEPING, SLEEPING_SHARED};
use crate::loom::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use crate::time::{Clock, Deadline};

// Private or shared
//
// A private futex operation (`FUTEX_PRIVATE_FLAG`) skips the page lookup that a shared one
// makes to build its key: a sleep/wake round trip measured about 8% faster with private
// operations (`docs/benchmarks.md`, "Private or shared futexes"). But since Linux 6.16 (seen
// on 6.18 here) private futexes hash into a per-process table of
// `roundup_pow_of_two(4 * min(threads, online CPUs))` slots, at least 16
// (`futex_hash_allocate_default` in kernel/futex/core.c; 16 on this 2-CPU machine, read back
// with `prctl(PR_FUTEX_HASH)`), so with thousands of threads asleep each private wait and
// wake walks a chain of hundreds of entries: a round trip measured 4.2x slower with 10,000
// other threads asleep (`docs/design.md`, "Why fixed, and why 1024"). Shared operations use
// the global hash (256 slots per possible CPU), which keeps that near 1x; for anonymous
// memory their key is still per process, so fork and other processes are unaffected.
//
// So each sleeper chooses: private while fewer than `PRIVATE_SLEEPERS_MAX` of wchan's threads
// are in a private wait (chains of about 4 entries in the smallest table), shared beyond.
// The choice is written into the parker's word (`SLEEPING` or `SLEEPING_SHARED`) when the
// thread blocks, and the waker's swap reads it back, so the wake always uses the sleeper's
// kind of operation, whichever the count says by then. Threads blocked in other code of the
// process (std's locks, say) also fill the private table; wchan cannot count those.
// `--cfg wchan_private_futex` (always private) and `--cfg wchan_shared_futex` (always shared)
// build the two fixed policies, for measuring against this one.

/// Private waits allowed at once before sleepers switch to shared ones: 4 per slot of the
/// smallest private table the kernel builds (16 slots).
const PRIVATE_SLEEPERS_MAX: usize = 64;

/// wchan's threads in (or entering) a private futex wait.
static PRIVATE_SLEEPERS: AtomicUsize = AtomicUsize::new(0);

/// Chooses how the calling thread will block: `SLEEPING` (private) or `SLEEPING_SHARED`.
/// Pair every call with one [`end_sleep`] of the value it returned.
pub(crate) fn begin_sleep() -> u32 {
    if cfg!(wchan_shared_futex) {
        return SLEEPING_SHARED;
    }
    if cfg!(wchan_private_futex) {
        return SLEEPING;
    }
    // Relaxed: a count for a heuristic; a stale read only picks the other (correct) kind.
    if PRIVATE_SLEEPERS.load(Ordering::Relaxed) >= PRIVATE_SLEEPERS_MAX {
        return SLEEPING_SHARED;
    }
    PRIVATE_SLEEPERS.fetch_add(1, Ordering::Relaxed);
    SLEEPING
}

/// Ends a block that [`begin_sleep`] chose `asleep` for.
pub(crate) fn end_sleep(asleep: u32) {
    if asleep == SLEEPING && !cfg!(wchan_private_futex) {
        PRIVATE_SLEEPERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// In a forked child: the parent's other threads, counted above, do not exist there.
#[cfg(not(miri))]
pub(crate) fn forget_sleepers_after_fork() {
    PRIVATE_SLEEPERS.store(0, Ordering::Relaxed);
}

/// The futex operation flags for a wait or wake of a thread blocked in state `asleep`.
fn kind(asleep: u32) -> libc::c_int {
    if asleep == SLEEPING_SHARED {
        0
    } else {
        libc::FUTEX_PRIVATE_FLAG
    }
}

pub(crate) use super::AddressOnly as Handle;

/// `struct __kernel_timespec`: the kernel's 64-bit timespec, the layout of `libc::timespec`
/// wherever `time_t` is 64 bits, and the one `futex_time64` reads on 32-bit targets.
#[repr(C)]
struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// Whether this target's `time_t` is 32 bits wide (i686, armv7 with glibc).
const NARROW_TIME_T: bool = std::mem::size_of::<libc::time_t>() < 8;

/// The futex system call that takes a `KernelTimespec`: `futex` where `time_t` is 64 bits,
/// `futex_time64` (number 422 on every 32-bit Linux architecture, from the generic syscall
/// table of Linux 5.1; the libc crate does not name it for i686 or arm) where it is 32.
#[allow(clippy::useless_conversion)] // c_long is i64 on 64-bit targets
const SYS_FUTEX_WIDE: libc::c_long = if NARROW_TIME_T { 422 } else { libc::SYS_futex };

/// Set once a 32-bit target's kernel has answered `ENOSYS` to `futex_time64` (before 5.1).
static NO_FUTEX_TIME64: AtomicBool = AtomicBool::new(false);

/// Blocks while `word` holds `expected`: the sleeping state, which also says which kind of
/// futex wait (`kind`).
pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, _: &Handle) -> Blocked {
    let wait_op = libc::FUTEX_WAIT_BITSET | kind(expected);
    let Some(d) = deadline else {
        // SAFETY: `word` is a live, aligned u32 for the whole call; a null timeout is valid.
        let rc = unsafe { futex_wait(libc::SYS_futex, word, wait_op, expected, std::ptr::null::<u8>()) };
        return outcome(rc, None);
    };
    // A deadline before the epoch has passed on both clocks: the kernel would reject a
    // negative tv_sec with EINVAL, so report the timeout here.
    if d.at().sec < 0 {
        return Blocked::TimedOut;
    }
    if NARROW_TIME_T && NO_FUTEX_TIME64.load(Ordering::Relaxed) {
        return block_relative(word, expected, d);
    }
    let op = if d.clock() == Clock::Realtime { wait_op | libc::FUTEX_CLOCK_REALTIME } else { wait_op };
    let ts = KernelTimespec { tv_sec: d.at().sec, tv_nsec: d.at().nsec };
    // SAFETY: `word` is a live, aligned u32 for the whole call; `ts` is a 64-bit timespec that
    // outlives the call, the layout `SYS_FUTEX_WIDE` reads.
    let rc = unsafe { futex_wait(SYS_FUTEX_WIDE, word, op, expected, &ts) };
    if NARROW_TIME_T && rc == Err(libc::ENOSYS) {
        // Relaxed: a cache of a fact about the kernel; a thread that misses it asks again.
        NO_FUTEX_TIME64.store(true, Ordering::Relaxed);
        return block_relative(word, expected, d);
    }
    outcome(rc, None)
}

/// The pre-5.1 path of a 32-bit target: `FUTEX_WAIT` (relative, measured on the monotonic
/// clock) for the time left, clamped to `time_t`. A timeout counts only once the deadline has
/// passed on its own clock; before that it is a spurious return and the caller waits again.
fn block_relative(word: &AtomicU32, expected: u32, d: &Deadline) -> Blocked {
    let left = d.remaining();
    if left.is_zero() {
        return Blocked::TimedOut;
    }
    #[allow(clippy::unnecessary_cast)] // time_t is i64 on the targets that never come here
    let max_sec = if NARROW_TIME_T { i32::MAX as u64 } else { i64::MAX as u64 };
    let ts = libc::timespec {
        tv_sec: left.as_secs().min(max_sec) as libc::time_t,
        tv_nsec: left.subsec_nanos() as libc::c_long,
    };
    let op = libc::FUTEX_WAIT | kind(expected);
    // SAFETY: `word` is a live, aligned u32 for the whole call; `ts` is a valid relative
    // timespec of this target's layout, which plain `futex` reads, and outlives the call.
    let rc = unsafe { futex_wait(libc::SYS_futex, word, op, expected, &ts) };
    outcome(rc, Some(d))
}

/// One futex wait; `Err(errno)` when the kernel reports an error.
///
/// # Safety
/// `timeout` is null or points at a timespec of the layout system call `nr` reads, alive for
/// the call.
unsafe fn futex_wait<T>(
    nr: libc::c_long,
    word: &AtomicU32,
    op: libc::c_int,
    expected: u32,
    timeout: *const T,
) -> Result<(), i32> {
    // SAFETY: `word` is a live, aligned u32 (a reference); the caller vouches for `timeout`;
    // uaddr2 is unused by FUTEX_WAIT and FUTEX_WAIT_BITSET.
    let rc = unsafe {
        libc::syscall(nr, word.as_ptr(), op, expected, timeout, std::ptr::null::<u32>(), libc::FUTEX_BITSET_MATCH_ANY)
    };
    if rc == 0 {
        return Ok(());
    }
    Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// What a wait's result means; `relative` is the deadline of a relative wait, whose timeout
/// is only a hint.
fn outcome(rc: Result<(), i32>, relative: Option<&Deadline>) -> Blocked {
    match rc {
        Ok(()) => Blocked::Returned,
        Err(libc::ETIMEDOUT) => match relative {
            Some(d) if !d.has_passed() => Blocked::Returned,
            _ => Blocked::TimedOut,
        },
        Err(libc::EINTR) => Blocked::Signalled,
        // The word changed before we slept: the caller re-reads it.
        Err(libc::EAGAIN) => Blocked::Returned,
        Err(e) => super::unexpected_error("futex wait", Some(e)),
    }
}

/// Wakes the thread blocked on `word` in state `asleep` (the kind of wait it chose).
pub(crate) fn wake(word: *const AtomicU32, asleep: u32, _: &Handle) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; the kernel does not require the
    // memory to still hold our word (at worst another futex user there sees a spurious wake,
    // which every futex user must tolerate, or the call fails with EFAULT).
    unsafe {
        libc::syscall(libc::SYS_futex, word, libc::FUTEX_WAKE | kind(asleep), 1);
    }
}
