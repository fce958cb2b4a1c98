//! OpenBSD backend: `futex(2)` on the state word.
//!
//! OpenBSD's `FUTEX_WAIT` takes a relative timeout, so it is recomputed from the absolute
//! deadline before every wait, and a timeout counts only once the deadline has passed on its
//! own clock. A `Realtime` deadline is re-measured against the wall clock at each return but
//! does not follow a clock change made while the thread is blocked (OpenBSD's own
//! `thrsleep` converts its deadline to a relative timeout on entry, the same way). A signal
//! ends the wait with `EINTR`, or `ECANCELED` when the handler was installed with
//! `SA_RESTART` (`sys/kern/sys_futex.c`, `futex_wait()`); both are reported as signalled.
//! Waits are split at one day so the timespec never nears the kernel's limits.

use std::time::Duration;

use super::Blocked;
use crate::loom::AtomicU32;
use crate::time::Deadline;

pub(crate) use super::AddressOnly as Handle;

const LONGEST_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, _: &Handle) -> Blocked {
    let ts;
    let timeout = match deadline {
        None => std::ptr::null(),
        Some(d) => {
            let left = d.remaining().min(LONGEST_WAIT);
            if left.is_zero() {
                return Blocked::TimedOut;
            }
            ts =
                libc::timespec { tv_sec: left.as_secs() as libc::time_t, tv_nsec: left.subsec_nanos() as libc::c_long };
            &ts as *const libc::timespec
        }
    };
    // SAFETY: `word` is a live, aligned u32 for the whole call; `timeout` is null or points at
    // `ts`, which outlives the call; uaddr2 is unused by FUTEX_WAIT.
    let rc = unsafe {
        libc::futex(
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected as libc::c_int,
            timeout,
            std::ptr::null_mut(),
        )
    };
    if rc == 0 {
        return Blocked::Returned;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => match deadline {
            Some(d) if d.has_passed() => Blocked::TimedOut,
            _ => Blocked::Returned,
        },
        Some(libc::EINTR | libc::ECANCELED) => Blocked::Signalled,
        // The word changed before we slept.
        Some(libc::EAGAIN) => Blocked::Returned,
        e => super::unexpected_error("futex(FUTEX_WAIT)", e),
    }
}

pub(crate) fn wake(word: *const AtomicU32, _: u32, _: &Handle) {
    // SAFETY: FUTEX_WAKE uses the address only as a key; the memory may be gone (a stray wake
    // there is a spurious wake every futex user tolerates).
    unsafe {
        libc::futex(
            word.cast_mut().cast(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
            std::ptr::null(),
            std::ptr::null_mut(),
        );
    }
}
