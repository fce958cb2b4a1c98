//! FreeBSD backend: `_umtx_op(2)` on the state word, with an absolute deadline on the
//! deadline's own clock, like the Linux futex backend.
//!
//! `UMTX_OP_WAIT_UINT_PRIVATE` sleeps while the 32-bit word holds the expected value; given a
//! `struct _umtx_time` with `UMTX_ABSTIME` and a clock id it sleeps until that clock reaches
//! the timespec, so a `Realtime` deadline follows a change of the wall clock made while the
//! thread is blocked. `UMTX_OP_WAKE_PRIVATE` wakes one sleeper on the address (both are
//! process-private, the pair must match). A signal handler ends the wait with `EINTR`; after
//! [`crate::interrupt`] changed the word, a restarted wait returns at once because the word
//! no longer matches. Reference: FreeBSD `_umtx_op(2)` and `sys/kern/kern_umtx.c`.

use super::Blocked;
use crate::loom::AtomicU32;
use crate::time::Deadline;

pub(crate) use super::AddressOnly as Handle;

pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, _: &Handle) -> Blocked {
    let mut time;
    let (size, timeout) = match deadline {
        None => (std::ptr::null_mut(), std::ptr::null_mut()),
        Some(d) => {
            // Before the epoch the deadline has passed on both clocks; the kernel would
            // reject a negative tv_sec.
            if d.at().sec < 0 {
                return Blocked::TimedOut;
            }
            // time_t is 64 bits on every FreeBSD platform but i386; there a later deadline is
            // clamped, and the early timeout it gives is caught below.
            #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
            let sec = d.at().sec.min(libc::time_t::MAX as i64) as libc::time_t;
            time = libc::_umtx_time {
                _timeout: libc::timespec { tv_sec: sec, tv_nsec: d.at().nsec as libc::c_long },
                _flags: libc::UMTX_ABSTIME,
                _clockid: d.clock().as_raw() as u32,
            };
            // With a `_umtx_time`, uaddr carries its size and uaddr2 points at it.
            (std::mem::size_of::<libc::_umtx_time>() as *mut libc::c_void, (&mut time as *mut libc::_umtx_time).cast())
        }
    };
    // SAFETY: `word` is a live, aligned u32 for the whole call; `timeout` is null or points at
    // `time`, which outlives the call, and `size` is its size as _umtx_op(2) requires.
    let rc = unsafe {
        libc::_umtx_op(word.as_ptr().cast(), libc::UMTX_OP_WAIT_UINT_PRIVATE, expected as libc::c_ulong, size, timeout)
    };
    if rc == 0 {
        return Blocked::Returned;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        // Counted only once the deadline has passed on its own clock (see the clamp above).
        Some(libc::ETIMEDOUT) => match deadline {
            Some(d) if !d.has_passed() => Blocked::Returned,
            _ => Blocked::TimedOut,
        },
        Some(libc::EINTR) => Blocked::Signalled,
        e => super::unexpected_error("_umtx_op(UMTX_OP_WAIT_UINT_PRIVATE)", e),
    }
}

pub(crate) fn wake(word: *const AtomicU32, _: u32, _: &Handle) {
    // SAFETY: UMTX_OP_WAKE_PRIVATE uses the address only as a key to find sleepers; it does
    // not read the memory, which may be gone (a stray wake there is a spurious wake).
    unsafe {
        libc::_umtx_op(
            word.cast_mut().cast(),
            libc::UMTX_OP_WAKE_PRIVATE,
            1,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
    }
}
