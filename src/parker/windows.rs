//! Windows backend: `WaitOnAddress` / `WakeByAddressSingle` on the state word.
//!
//! `WaitOnAddress` takes a relative timeout in milliseconds, so the timeout is recomputed
//! from the absolute deadline before every wait (rounded up, so never early) and a timeout
//! counts only once the deadline has passed on its own clock: a wait that returns early, for
//! any reason, just waits again for what is left. A `Realtime` deadline is therefore
//! re-measured against the wall clock at every return, but a clock change made while the
//! thread is blocked is seen only at its next return. Waits longer than `INFINITE - 1` ms
//! (about 49.7 days) are split the same way.
//!
//! Windows has no signals: nothing ends a blocked wait except a wake, the timeout, or the word
//! changing. [`crate::interrupt`] still moves the word to `INTERRUPTED` when it runs on the
//! sleeping thread during a sleep (for instance from code the sleep itself calls before it
//! blocks); no other thread can interrupt a sleep, so on Windows `Error::Interrupted` comes
//! only from the abort flag or such a call. Reference: Microsoft's documentation of
//! `WaitOnAddress` (synchapi.h) and `WakeByAddressSingle`.

use std::time::Duration;

use windows_sys::Win32::Foundation::{GetLastError, ERROR_TIMEOUT};
use windows_sys::Win32::System::Threading::{WaitOnAddress, WakeByAddressSingle, INFINITE};

use super::Blocked;
use crate::loom::AtomicU32;
use crate::time::Deadline;

pub(crate) use super::AddressOnly as Handle;

/// Milliseconds to wait for `left`, rounded up and kept below `INFINITE`.
fn millis(left: Duration) -> u32 {
    let ms = left.as_millis() + u128::from(left.subsec_nanos() % 1_000_000 != 0);
    u32::try_from(ms).unwrap_or(u32::MAX).min(INFINITE - 1)
}

pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, _: &Handle) -> Blocked {
    let timeout = match deadline {
        None => INFINITE,
        Some(d) => match d.remaining() {
            Duration::ZERO => return Blocked::TimedOut,
            left => millis(left),
        },
    };
    // SAFETY: `word` is a live, aligned u32 for the whole call and `expected` a u32 of the
    // same size on this stack; WaitOnAddress only reads both.
    let ok = unsafe { WaitOnAddress(word.as_ptr().cast(), (&expected as *const u32).cast(), 4, timeout) };
    if ok != 0 {
        return Blocked::Returned;
    }
    // SAFETY: reads this thread's last-error value, set by the failed call just above.
    match unsafe { GetLastError() } {
        ERROR_TIMEOUT => match deadline {
            Some(d) if d.has_passed() => Blocked::TimedOut,
            _ => Blocked::Returned,
        },
        e => super::unexpected_error("WaitOnAddress", Some(e as i32)),
    }
}

pub(crate) fn wake(word: *const AtomicU32, _: u32, _: &Handle) {
    // SAFETY: WakeByAddressSingle uses the address only as a key; it does not read the memory,
    // which may be gone (a stray wake there is a spurious wake every waiter tolerates).
    unsafe { WakeByAddressSingle(word.cast()) };
}
