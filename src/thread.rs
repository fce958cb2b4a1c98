//! Thread sleep with POSIX `nanosleep(2)` / `sleep(3)` semantics: the sleep reports the time it
//! did not sleep when a signal handler cuts it short. (WASI preview 1 has no thread sleep
//! call of its own, only `poll_oneoff`; WASIX's `thread_sleep` returns an errno and no
//! remainder, so it is not the model here.)
//!
//! A sleep is one state, "queued on a private key that nobody wakes", left in one of two ways:
//!
//! | how it ends                         | [`sleep`] returns      | [`sleep_secs`] returns        |
//! |-------------------------------------|------------------------|-------------------------------|
//! | the monotonic deadline passes       | `Duration::ZERO`       | `0`                           |
//! | a signal handler runs on the thread | the time still to go   | the seconds still to go, rounded up |
//!
//! The deadline is an absolute point on `CLOCK_MONOTONIC`, computed once at the start, so
//! setting the wall clock neither lengthens nor shortens a sleep, and an interrupted sleep
//! reports exactly what remains of it. The thread blocks in the kernel (a futex wait on
//! Linux; `docs/platforms.md` lists the others) for the whole time: no busy waiting.
//!
//! On Linux any signal whose handler runs while the thread sleeps interrupts it, whether or
//! not the handler was installed with `SA_RESTART` (as with `nanosleep`, which is never
//! restarted). So does [`crate::interrupt`] called from a handler, which also catches a signal
//! that lands just before the thread blocks. On FreeBSD, macOS 14.4+ and OpenBSD the parker
//! waits on wchan's own word too, so [`crate::interrupt`] from a handler ends the sleep there;
//! whether a handler that does not call it ends the sleep follows that kernel's restart rules
//! (not checked here: `docs/platforms.md`). Windows has no signals. Under the portable parker (older
//! macOS, other targets, `--cfg wchan_fallback_parker`) a signal does not interrupt a sleep:
//! it runs to its end.

use std::time::Duration;

use crate::park::{self, ParkOptions, ParkResult};
use crate::time::Deadline;

/// Sleeps for `duration` on the monotonic clock; returns the part not slept: zero when the
/// whole time elapsed, the time left when a signal handler interrupted the sleep (on Linux;
/// see the [module docs](self)). A zero duration returns at once.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let left = wchan::thread::sleep(Duration::from_millis(20));
/// assert_eq!(left, Duration::ZERO); // no signal arrived
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// ```
///
/// Resuming an interrupted sleep, as with `nanosleep`:
///
/// ```
/// use std::time::Duration;
///
/// let mut left = Duration::from_millis(5);
/// while !left.is_zero() {
///     left = wchan::thread::sleep(left);
/// }
/// ```
pub fn sleep(duration: Duration) -> Duration {
    #[cfg(feature = "tracing")]
    let trace = crate::trace::thread_sleep_begin();
    let left = sleep_untraced(duration);
    #[cfg(feature = "tracing")]
    crate::trace::thread_sleep_end(trace, duration, left);
    left
}

/// [`sleep`] itself; inlined, so without the `tracing` feature `sleep` is this code.
#[inline(always)]
fn sleep_untraced(duration: Duration) -> Duration {
    if duration.is_zero() {
        return Duration::ZERO;
    }
    let deadline = Deadline::after(duration);
    // A key no other thread knows: a byte on this stack frame, in wchan's internal key space,
    // which no public function can name, so nothing but the deadline or a signal ends it.
    let anchor = 0u8;
    let key = crate::sync::internal_key(&anchor);
    loop {
        match park::park_on(key, ParkOptions::new().deadline(deadline), |_| true, || {}, |_, _| {}) {
            ParkResult::TimedOut => return Duration::ZERO,
            ParkResult::Interrupted => return deadline.remaining(),
            // Only a forked child's table reset can end it this way (`docs/reliability.md`,
            // "fork"): a spurious wake, so keep sleeping.
            ParkResult::Unparked(_) | ParkResult::Invalid => {}
        }
    }
}

/// Sleeps for `seconds` seconds with POSIX `sleep(3)`'s contract: returns 0 when the whole
/// time elapsed, or the number of seconds not slept when a signal handler interrupted the
/// sleep (on Linux; see the [module docs](self)).
///
/// The unslept time is rounded **up** to whole seconds, so an interrupted sleep with any time
/// left never reports 0 (0 always means "slept the full time"), and a caller that sleeps
/// again for the returned value sleeps at least as long as first asked. Interrupted with
/// 2.3 s to go, it returns 3.
///
/// ```
/// assert_eq!(wchan::thread::sleep_secs(0), 0);
/// ```
pub fn sleep_secs(seconds: u32) -> u32 {
    let left = sleep(Duration::from_secs(u64::from(seconds)));
    let whole = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    // Never more than asked: the remainder is measured against a deadline `seconds` away.
    u32::try_from(whole).unwrap_or(u32::MAX).min(seconds)
}
