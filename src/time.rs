//! Clocks, timespecs and absolute deadlines.
//!
//! A [`Deadline`] is an absolute point on a named [`Clock`], as `__thrsleep(2)` takes one:
//! a sleep ends when that clock reaches the point, so a `Realtime` deadline follows changes
//! to the wall clock and a `Monotonic` one does not. A `Deadline` can only hold a valid
//! timespec (`0 <= nsec < 1_000_000_000`); the check happens once, in [`Deadline::new`].
//!
//! Under `--cfg loom` there is no clock: [`Clock::now`] reads zero on both clocks, so a
//! deadline at or before the epoch has passed and any later one "may expire": the model
//! explores both a wakeup arriving first and the deadline expiring first (see
//! `docs/model-checking.md`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::Error;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The clock a deadline is measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Clock {
    /// `CLOCK_REALTIME`: wall-clock time, which can jump when the system time is set.
    Realtime,
    /// `CLOCK_MONOTONIC`: time since an arbitrary start, never set backwards.
    Monotonic,
}

impl Clock {
    /// The clock for a raw `clockid_t`; any id but `CLOCK_REALTIME` and `CLOCK_MONOTONIC`
    /// is [`Error::InvalidArgument`], as `__thrsleep(2)` rejects unknown clocks.
    ///
    /// ```
    /// use wchan::{Clock, Error};
    /// assert_eq!(Clock::from_raw(libc::CLOCK_MONOTONIC), Ok(Clock::Monotonic));
    /// assert_eq!(Clock::from_raw(12345), Err(Error::InvalidArgument));
    /// ```
    pub fn from_raw(id: libc::clockid_t) -> Result<Clock, Error> {
        match id {
            libc::CLOCK_REALTIME => Ok(Clock::Realtime),
            libc::CLOCK_MONOTONIC => Ok(Clock::Monotonic),
            _ => Err(Error::InvalidArgument),
        }
    }

    /// The raw `clockid_t` of this clock.
    pub fn as_raw(self) -> libc::clockid_t {
        match self {
            Clock::Realtime => libc::CLOCK_REALTIME,
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
        }
    }

    /// The clock's current time (`clock_gettime`; a vDSO call, no syscall, on Linux).
    /// Under `--cfg loom` it is always zero.
    pub fn now(self) -> Timespec {
        if crate::loom::LOOM {
            return Timespec::new(0, 0);
        }
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec and the clock id is one of the two
        // clocks every supported platform has, so clock_gettime cannot fail.
        let rc = unsafe { libc::clock_gettime(self.as_raw(), &mut ts) };
        debug_assert_eq!(rc, 0);
        #[allow(clippy::useless_conversion)] // time_t and c_long are i32 on some targets
        Timespec::new(i64::from(ts.tv_sec), i64::from(ts.tv_nsec))
    }
}

/// Seconds and nanoseconds, as in `struct timespec`.
///
/// Ordering compares `sec` then `nsec`, which is time order for normalized values (those a
/// [`Deadline`] accepts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timespec {
    /// Whole seconds; negative values lie before the clock's origin.
    pub sec: i64,
    /// Nanoseconds; valid in a deadline only in `0..1_000_000_000`.
    pub nsec: i64,
}

impl Timespec {
    /// A timespec, unchecked (a [`Deadline`] checks it).
    pub const fn new(sec: i64, nsec: i64) -> Timespec {
        Timespec { sec, nsec }
    }

    /// Whether `nsec` lies in `0..1_000_000_000`.
    pub const fn is_normalized(&self) -> bool {
        self.nsec >= 0 && self.nsec < NANOS_PER_SEC
    }

    /// `self + d`, saturating at the largest timespec. `self` must be normalized.
    pub fn saturating_add(self, d: Duration) -> Timespec {
        Timespec::from_nanos_saturating(self.as_nanos() + d.as_nanos() as i128)
    }

    /// `self - d`, saturating at the smallest timespec. `self` must be normalized.
    pub fn saturating_sub(self, d: Duration) -> Timespec {
        Timespec::from_nanos_saturating(self.as_nanos() - d.as_nanos() as i128)
    }

    /// How far `self` lies after `earlier`; zero when it does not.
    pub fn saturating_duration_since(self, earlier: Timespec) -> Duration {
        let nanos = self.as_nanos() - earlier.as_nanos();
        if nanos <= 0 {
            return Duration::ZERO;
        }
        // At most (2^64 - 1) s + 999_999_999 ns apart: always a valid Duration.
        Duration::new((nanos / NANOS_PER_SEC as i128) as u64, (nanos % NANOS_PER_SEC as i128) as u32)
    }

    /// Nanoseconds since the clock's origin; every timespec (and every `Duration`) fits in an
    /// i128 with room to spare, so sums and differences are exact before saturating.
    fn as_nanos(self) -> i128 {
        self.sec as i128 * NANOS_PER_SEC as i128 + self.nsec as i128
    }

    fn from_nanos_saturating(nanos: i128) -> Timespec {
        let (min, max) = (Timespec::new(i64::MIN, 0), Timespec::new(i64::MAX, NANOS_PER_SEC - 1));
        if nanos <= min.as_nanos() {
            return min;
        }
        if nanos >= max.as_nanos() {
            return max;
        }
        let per_sec = NANOS_PER_SEC as i128;
        Timespec::new(nanos.div_euclid(per_sec) as i64, nanos.rem_euclid(per_sec) as i64)
    }
}

/// An absolute, validated point in time on a [`Clock`].
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use wchan::{Clock, Deadline, Error, Timespec};
///
/// let soon = Deadline::after(Duration::from_millis(10)); // monotonic
/// assert_eq!(soon.clock(), Clock::Monotonic);
/// let wall: Deadline = (SystemTime::now() + Duration::from_secs(1)).into(); // realtime
/// assert_eq!(wall.clock(), Clock::Realtime);
/// assert_eq!(
///     Deadline::new(Clock::Realtime, Timespec::new(1, 1_000_000_000)),
///     Err(Error::InvalidArgument)
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deadline {
    clock: Clock,
    at: Timespec,
}

impl Deadline {
    /// A deadline at `at` on `clock`. `at.nsec` outside `0..1_000_000_000` is
    /// [`Error::InvalidArgument`]. Any `sec` is accepted: one in the past times out at once,
    /// one far in the future (up to `i64::MAX`) sleeps until woken.
    pub fn new(clock: Clock, at: Timespec) -> Result<Deadline, Error> {
        if !at.is_normalized() {
            return Err(Error::InvalidArgument);
        }
        Ok(Deadline { clock, at })
    }

    /// A deadline on a raw clock id, as `__thrsleep(2)` takes one: an unknown clock or a bad
    /// `nsec` is [`Error::InvalidArgument`].
    pub fn from_raw(clock_id: libc::clockid_t, at: Timespec) -> Result<Deadline, Error> {
        Deadline::new(Clock::from_raw(clock_id)?, at)
    }

    /// `d` from now on the monotonic clock; saturates rather than overflowing.
    pub fn after(d: Duration) -> Deadline {
        Deadline { clock: Clock::Monotonic, at: Clock::Monotonic.now().saturating_add(d) }
    }

    /// The clock this deadline is measured against.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The absolute time of the deadline on its clock.
    pub fn at(&self) -> Timespec {
        self.at
    }

    /// Whether the deadline's clock has reached it (`deadline <= now`).
    pub fn has_passed(&self) -> bool {
        self.at <= self.clock.now()
    }

    /// Time left until the deadline on its clock; zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(self.clock.now())
    }
}

impl From<Instant> for Deadline {
    /// The monotonic deadline for an `Instant`. std does not expose an `Instant`'s timespec,
    /// so the conversion reads both clocks once and carries the offset over; the error is the
    /// few nanoseconds between the two reads.
    fn from(when: Instant) -> Deadline {
        let (now_instant, now) = (Instant::now(), Clock::Monotonic.now());
        let at = match when.checked_duration_since(now_instant) {
            Some(ahead) => now.saturating_add(ahead),
            None => now.saturating_sub(now_instant - when),
        };
        Deadline { clock: Clock::Monotonic, at }
    }
}

impl From<SystemTime> for Deadline {
    /// The realtime deadline for a `SystemTime`, exactly.
    fn from(when: SystemTime) -> Deadline {
        let epoch = Timespec::new(0, 0);
        let at = match when.duration_since(UNIX_EPOCH) {
            Ok(after) => epoch.saturating_add(after),
            Err(before) => epoch.saturating_sub(before.duration()),
        };
        Deadline { clock: Clock::Realtime, at }
    }
}
