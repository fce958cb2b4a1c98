//! Debug-level `tracing` events for the sleep and wake paths (cargo feature `tracing`; this
//! module does not exist without it).
//!
//! | target | emitted by | fields |
//! |---|---|---|
//! | `wchan::sleep` | [`crate::Sleep::wait`] | `chan` (an address, `{:?}` of a pointer), `clock`, `deadline_sec`, `deadline_nsec` (absent without a deadline), `unlocking`, `abort`, `outcome` (`woken`, `timed_out`, `interrupted`, `invalid_argument`), `slept_ns` |
//! | `wchan::wakeup` | [`crate::wakeup`] | `chan`, `requested` (0 = all), `woken`, `outcome` (`woken`, `no_waiters`, `invalid_argument`) |
//! | `wchan::thread` | [`crate::thread::sleep`] | `requested_ns`, `slept_ns`, `left_ns`, `outcome` (`elapsed`, `interrupted`) |
//!
//! Each path asks `tracing::enabled!` once, first. Unless a subscriber enables DEBUG for the
//! target, that is tracing's global max-level load (and, at worst, its per-callsite interest
//! load): no clock is read, nothing is formatted, allocated or locked. Field values are
//! integers, booleans and `&'static str`s, so even an enabled event formats nothing unless
//! the subscriber does. `tests/tracing_no_alloc.rs` counts the allocations, and
//! `tests/tracing_events.rs` checks the fields.

use std::time::{Duration, Instant};

use tracing::Level;

use crate::time::{Clock, Deadline};
use crate::Error;

/// A traced sleep in progress: what it was asked to do and when it started. `None` (from
/// [`SleepTrace::begin`]) when nobody listens.
pub(crate) struct SleepTrace {
    chan: usize,
    deadline: Option<Deadline>,
    unlocking: bool,
    abort: bool,
    start: Instant,
}

impl SleepTrace {
    #[inline]
    pub(crate) fn begin(chan: usize, deadline: Option<Deadline>, unlocking: bool, abort: bool) -> Option<SleepTrace> {
        if !tracing::enabled!(target: "wchan::sleep", Level::DEBUG) {
            return None;
        }
        Some(SleepTrace { chan, deadline, unlocking, abort, start: Instant::now() })
    }

    pub(crate) fn end(this: Option<SleepTrace>, result: Result<(), Error>) {
        let Some(t) = this else { return };
        let outcome = match result {
            Ok(()) => "woken",
            Err(Error::TimedOut) => "timed_out",
            Err(Error::Interrupted) => "interrupted",
            Err(_) => "invalid_argument",
        };
        tracing::debug!(
            target: "wchan::sleep",
            chan = ?(t.chan as *const ()),
            clock = t.deadline.map(|d| clock_name(d.clock())),
            deadline_sec = t.deadline.map(|d| d.at().sec),
            deadline_nsec = t.deadline.map(|d| d.at().nsec),
            unlocking = t.unlocking,
            abort = t.abort,
            outcome,
            slept_ns = nanos(t.start.elapsed()),
            "sleep ended"
        );
    }
}

/// Records a [`crate::wakeup`] (`requested` as the caller passed it, 0 meaning all).
#[inline]
pub(crate) fn wakeup(chan: usize, requested: usize, result: Result<usize, Error>) {
    if !tracing::enabled!(target: "wchan::wakeup", Level::DEBUG) {
        return;
    }
    let (woken, outcome) = match result {
        Ok(k) => (k, "woken"),
        Err(Error::NoWaiters) => (0, "no_waiters"),
        Err(_) => (0, "invalid_argument"),
    };
    tracing::debug!(
        target: "wchan::wakeup",
        chan = ?(chan as *const ()),
        requested = requested as u64,
        woken = woken as u64,
        outcome,
        "wakeup"
    );
}

/// The start of a traced [`crate::thread::sleep`], `None` when nobody listens.
#[inline]
pub(crate) fn thread_sleep_begin() -> Option<Instant> {
    tracing::enabled!(target: "wchan::thread", Level::DEBUG).then(Instant::now)
}

/// Records the end of a [`crate::thread::sleep`] of `requested` that left `left` unslept.
pub(crate) fn thread_sleep_end(start: Option<Instant>, requested: Duration, left: Duration) {
    let Some(start) = start else { return };
    tracing::debug!(
        target: "wchan::thread",
        requested_ns = nanos(requested),
        slept_ns = nanos(start.elapsed()),
        left_ns = nanos(left),
        outcome = if left.is_zero() { "elapsed" } else { "interrupted" },
        "thread sleep ended"
    );
}

fn clock_name(c: Clock) -> &'static str {
    match c {
        Clock::Realtime => "realtime",
        Clock::Monotonic => "monotonic",
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
