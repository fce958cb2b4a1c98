//! Linux backend: `FUTEX_WAIT_BITSET` with an absolute deadline on the deadline's own clock.
//!
//! `FUTEX_WAIT_BITSET` measures an absolute timeout against `CLOCK_MONOTONIC`, or against
//! `CLOCK_REALTIME` when `FUTEX_CLOCK_REALTIME` is set, so a wall-clock deadline follows
//! `settimeofday` the way OpenBSD measures a sleep against its `clock_id`.

use super::Blocked;
use crate::loom::AtomicU32;
use crate::time::{Clock, Deadline};

/// Futex operations without `FUTEX_PRIVATE_FLAG`.
///
/// Recent Linux kernels (6.16 on; seen on 6.18 here) hash private futexes into a per-process
/// table sized from the number of online CPUs (16 slots on this 2-CPU machine, read back with
/// `prctl(PR_FUTEX_HASH)`), so with thousands of threads asleep every wait and wake walks a
/// chain of hundreds of kernel entries: a wake/sleep round trip measured 2.5x
/// slower with 10,000 other threads asleep. Shared futex operations use the global hash (256
/// slots per CPU), which keeps that ratio near 1x for the cost of a page lookup per call;
/// for anonymous memory the key is still per process, so fork and other processes are
/// unaffected. Numbers and commands: `docs/design.md`, "The parker". Build with
/// `--cfg wchan_private_futex` to measure the private variant.
#[cfg(not(wchan_private_futex))]
const WAIT: libc::c_int = libc::FUTEX_WAIT_BITSET;
#[cfg(not(wchan_private_futex))]
const WAKE: libc::c_int = libc::FUTEX_WAKE;
#[cfg(wchan_private_futex)]
const WAIT: libc::c_int = libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG;
#[cfg(wchan_private_futex)]
const WAKE: libc::c_int = libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG;

/// The futex backend needs nothing beyond the word's address.
#[derive(Clone)]
pub(crate) struct Handle;

impl Handle {
    pub(crate) fn current() -> Handle {
        Handle
    }
}

pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, _: &Handle) -> Blocked {
    let mut op = WAIT;
    let ts;
    let timeout = match deadline {
        None => std::ptr::null(),
        Some(d) => {
            if d.clock() == Clock::Realtime {
                op |= libc::FUTEX_CLOCK_REALTIME;
            }
            // A deadline before the epoch has passed on both clocks: the kernel would reject
            // a negative tv_sec with EINVAL, so report the timeout here.
            if d.at().sec < 0 {
                return Blocked::TimedOut;
            }
            ts = libc::timespec { tv_sec: d.at().sec as libc::time_t, tv_nsec: d.at().nsec as libc::c_long };
            &ts as *const libc::timespec
        }
    };
    // SAFETY: `word` is a live, aligned u32 for the whole call; `timeout` is null or points at
    // `ts`, which outlives the call; uaddr2 is unused by FUTEX_WAIT_BITSET.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            expected,
            timeout,
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
    if rc == 0 {
        return Blocked::Returned;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => Blocked::TimedOut,
        Some(libc::EINTR) => Blocked::Signalled,
        // EAGAIN: the word changed before we slept. Anything else cannot happen for a valid
        // word and timespec; the caller re-reads the word either way, so no busy loop.
        _ => Blocked::Returned,
    }
}

pub(crate) fn wake(word: *const AtomicU32, _: &Handle) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; the kernel does not require the
    // memory to still hold our word (at worst another futex user there sees a spurious wake,
    // which every futex user must tolerate, or the call fails with EFAULT).
    unsafe {
        libc::syscall(libc::SYS_futex, word, WAKE, 1);
    }
}
