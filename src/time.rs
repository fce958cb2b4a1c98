//! Clocks, timespecs and absolute deadlines.
//!
//! A [`Deadline`] is an absolute point on a named [`Clock`], as `__thrsleep(2)` takes one. A
//! `Deadline` can only hold a valid timespec (`0 <= nsec < 1_000_000_000`); the check happens
//! once, in [`Deadline::new`].
//!
//! How a `Realtime` deadline meets a change of the wall clock depends on the parker
//! (`docs/platforms.md`): the Linux futex and FreeBSD `_umtx_op` parkers hand the kernel the
//! absolute deadline on its own clock, so a sleep ends when the wall clock reaches it even if
//! the clock is set while the thread is blocked. The other parkers (macOS, Windows, OpenBSD,
//! the portable one) wait for a relative time recomputed from the absolute deadline at every
//! return: never early, but a clock change made while the thread is blocked is seen only at
//! its next return. OpenBSD's own `thrsleep` does less than either: it converts the deadline
//! into a relative timeout once, on entry (`sys/kern/kern_synch.c`, `thrsleep()`, openbsd/src
//! 5c8c1e2d), so a clock change never shortens or lengthens its sleep.
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
    /// Wall-clock time since the Unix epoch (`CLOCK_REALTIME` on Unix), which can jump when the
    /// system time is set.
    Realtime,
    /// Time since an arbitrary start, never set backwards (`CLOCK_MONOTONIC` on Unix; on
    /// Windows and WASI, the time since this process first read wchan's monotonic clock,
    /// measured with std's `Instant`).
    Monotonic,
}

impl Clock {
    /// The clock for a raw `clockid_t`; any id but `CLOCK_REALTIME` and `CLOCK_MONOTONIC`
    /// is [`Error::InvalidArgument`]. Unix only: other targets have no clock ids.
    ///
    /// wchan accepts exactly the two clocks its parkers can sleep against. OpenBSD's
    /// `thrsleep` is wider: it checks the clock id only when a timeout is given, and then
    /// accepts any id `clock_gettime` knows (`CLOCK_BOOTTIME`, `CLOCK_UPTIME`, the CPU-time
    /// clocks), because it converts the deadline into a relative timeout on entry
    /// (`sys/kern/kern_synch.c`, `thrsleep`). wchan keeps the deadline absolute on its own
    /// clock, and the kernels it sleeps in wait only on realtime and monotonic.
    ///
    /// ```
    /// use wchan::{Clock, Error};
    /// assert_eq!(Clock::from_raw(libc::CLOCK_MONOTONIC), Ok(Clock::Monotonic));
    /// assert_eq!(Clock::from_raw(12345), Err(Error::InvalidArgument));
    /// ```
    #[cfg(unix)]
    pub fn from_raw(id: libc::clockid_t) -> Result<Clock, Error> {
        match id {
            libc::CLOCK_REALTIME => Ok(Clock::Realtime),
            libc::CLOCK_MONOTONIC => Ok(Clock::Monotonic),
            _ => Err(Error::InvalidArgument),
        }
    }

    /// The raw `clockid_t` of this clock. Unix only.
    #[cfg(unix)]
    pub fn as_raw(self) -> libc::clockid_t {
        match self {
            Clock::Realtime => libc::CLOCK_REALTIME,
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
        }
    }

    /// The clock's current time (`clock_gettime` on Unix, a vDSO call with no syscall on
    /// Linux; std's `SystemTime` and `Instant` elsewhere). Under `--cfg loom` it is always zero.
    pub fn now(self) -> Timespec {
        if crate::loom::LOOM {
            return Timespec::new(0, 0);
        }
        self.read()
    }

    #[cfg(unix)]
    fn read(self) -> Timespec {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec and the clock id is one of the two
        // clocks every supported platform has, so clock_gettime cannot fail.
        let rc = unsafe { libc::clock_gettime(self.as_raw(), &mut ts) };
        debug_assert_eq!(rc, 0);
        #[allow(clippy::useless_conversion)] // time_t and c_long are i32 on some targets
        Timespec::new(i64::from(ts.tv_sec), i64::from(ts.tv_nsec))
    }

    #[cfg(not(unix))]
    fn read(self) -> Timespec {
        let epoch = Timespec::new(0, 0);
        match self {
            Clock::Realtime => match SystemTime::now().duration_since(UNIX_EPOCH) {
                Ok(after) => epoch.saturating_add(after),
                Err(before) => epoch.saturating_sub(before.duration()),
            },
            Clock::Monotonic => {
                // The origin is the first read; a OnceLock needs no allocation.
                static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
                let origin = *ORIGIN.get_or_init(Instant::now);
                epoch.saturating_add(Instant::now().saturating_duration_since(origin))
            }
        }
    }
}

/// Seconds and nanoseconds, as in `struct timespec`.
///
/// Comparison, equality and hashing use the value `sec * 10^9 + nsec` (computed exactly, in
/// 128 bits), not the fields one by one, so an unnormalized timespec such as `(1, -1)` is
/// equal to `(0, 999_999_999)` and orders by the time it denotes. Arithmetic is by value
/// too and saturates; only a [`Deadline`] requires normalized fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timespec {
    /// Whole seconds; negative values lie before the clock's origin.
    pub sec: i64,
    /// Nanoseconds; valid in a deadline only in `0..1_000_000_000`.
    pub nsec: i64,
}

impl PartialEq for Timespec {
    fn eq(&self, other: &Timespec) -> bool {
        self.as_nanos() == other.as_nanos()
    }
}

impl Eq for Timespec {}

impl PartialOrd for Timespec {
    fn partial_cmp(&self, other: &Timespec) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timespec {
    fn cmp(&self, other: &Timespec) -> std::cmp::Ordering {
        self.as_nanos().cmp(&other.as_nanos())
    }
}

impl std::hash::Hash for Timespec {
    /// Hashes the value, so equal timespecs hash alike whatever their fields.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_nanos().hash(state);
    }
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

    /// `self + d`, normalized, saturating at `(i64::MAX, 999_999_999)` and
    /// `(i64::MIN, 0)`. Exact for any fields of `self`.
    pub fn saturating_add(self, d: Duration) -> Timespec {
        Timespec::from_nanos_saturating(self.as_nanos() + d.as_nanos() as i128)
    }

    /// `self - d`, normalized, saturating as [`Timespec::saturating_add`] does.
    pub fn saturating_sub(self, d: Duration) -> Timespec {
        Timespec::from_nanos_saturating(self.as_nanos() - d.as_nanos() as i128)
    }

    /// How far `self` lies after `earlier`: zero when it does not, `Duration::MAX` when the
    /// distance is larger than a `Duration` holds (possible only for unnormalized input).
    pub fn saturating_duration_since(self, earlier: Timespec) -> Duration {
        let nanos = self.as_nanos() - earlier.as_nanos();
        if nanos <= 0 {
            return Duration::ZERO;
        }
        let per_sec = NANOS_PER_SEC as i128;
        match u64::try_from(nanos / per_sec) {
            Ok(secs) => Duration::new(secs, (nanos % per_sec) as u32),
            Err(_) => Duration::MAX,
        }
    }

    /// Nanoseconds since the clock's origin. Any two i64 fields give at most about
    /// 9.3 * 10^27 in magnitude and a `Duration` at most 1.9 * 10^28, far inside an i128,
    /// so sums and differences are exact before saturating.
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
    /// `nsec` is [`Error::InvalidArgument`]. Unix only, as [`Clock::from_raw`].
    #[cfg(unix)]
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
