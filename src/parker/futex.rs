//! Linux backend: `FUTEX_WAIT_BITSET` with an absolute deadline on the deadline's own clock.
//!
//! `FUTEX_WAIT_BITSET` measures an absolute timeout against `CLOCK_MONOTONIC`, or against
//! `CLOCK_REALTIME` when `FUTEX_CLOCK_REALTIME` is set, so a wall-clock deadline follows
//! `settimeofday` the way OpenBSD measures a sleep against its `clock_id`.

use super::Blocked;
use crate::loom::AtomicU32;
use crate::time::{Clock, Deadline};

/// The futex backend needs nothing beyond the word's address.
#[derive(Clone)]
pub(crate) struct Handle;

impl Handle {
    pub(crate) fn current() -> Handle {
        Handle
    }
}

pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, _: &Handle) -> Blocked {
    let mut op = libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG;
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
        libc::syscall(libc::SYS_futex, word, libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1);
    }
}
