//! `Error` (errno values, Display, io::Error) and the time types (Timespec arithmetic at the
//! edges, Deadline conversions from Instant, SystemTime and Duration).
use std::collections::HashSet;
use std::io::ErrorKind;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wchan::{Clock, Deadline, Error, Sleep, Timespec};

const ALL: [Error; 4] = [Error::InvalidArgument, Error::TimedOut, Error::Interrupted, Error::NoWaiters];
const MAX_NSEC: i64 = 999_999_999;

#[test]
fn errno_values_are_the_openbsd_ones() {
    assert_eq!(Error::InvalidArgument.errno(), libc::EINVAL);
    assert_eq!(Error::TimedOut.errno(), libc::EWOULDBLOCK);
    assert_eq!(Error::TimedOut.errno(), libc::EAGAIN, "EWOULDBLOCK is EAGAIN on Linux");
    assert_eq!(Error::Interrupted.errno(), libc::EINTR);
    assert_eq!(Error::NoWaiters.errno(), libc::ESRCH);
}

#[test]
fn display_is_distinct_and_meaningful() {
    let texts: Vec<String> = ALL.iter().map(|e| e.to_string()).collect();
    assert!(texts.iter().all(|t| !t.is_empty()));
    assert_eq!(texts.iter().collect::<HashSet<_>>().len(), ALL.len(), "{texts:?}");
    assert!(texts[0].contains("invalid"), "{}", texts[0]);
    assert!(texts[1].contains("deadline"), "{}", texts[1]);
    assert!(texts[2].contains("interrupted"), "{}", texts[2]);
    assert!(texts[3].contains("no thread"), "{}", texts[3]);
}

#[test]
fn error_converts_to_io_error_with_its_errno() {
    for e in ALL {
        let io: std::io::Error = e.into();
        // On Windows a raw OS error is a Win32 code, not an errno: the kind carries it there.
        #[cfg(not(windows))]
        assert_eq!(io.raw_os_error(), Some(e.errno()), "{e:?}");
        #[cfg(windows)]
        assert_eq!(io.raw_os_error(), None, "{e:?}");
    }
    let kind = |e: Error| std::io::Error::from(e).kind();
    assert_eq!(kind(Error::InvalidArgument), ErrorKind::InvalidInput);
    assert_eq!(kind(Error::TimedOut), ErrorKind::WouldBlock);
    assert_eq!(kind(Error::Interrupted), ErrorKind::Interrupted);
    // `?` works in io::Result functions and into Box<dyn Error>.
    fn io_fn() -> std::io::Result<()> {
        Err(Error::NoWaiters)?
    }
    #[cfg(not(windows))]
    assert_eq!(io_fn().unwrap_err().raw_os_error(), Some(libc::ESRCH));
    #[cfg(windows)]
    assert_eq!(io_fn().unwrap_err().kind(), ErrorKind::NotFound);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Error::TimedOut.into();
    assert_eq!(boxed.to_string(), Error::TimedOut.to_string());
    assert!(boxed.source().is_none());
}

#[test]
fn timespec_add_carries_and_saturates_at_i64_max() {
    let ns = Duration::from_nanos;
    assert_eq!(Timespec::new(1, MAX_NSEC).saturating_add(ns(1)), Timespec::new(2, 0));
    assert_eq!(Timespec::new(1, 500).saturating_add(Duration::new(2, 600)), Timespec::new(3, 1100));
    assert_eq!(Timespec::new(-2, 0).saturating_add(ns(1)), Timespec::new(-2, 1));
    assert_eq!(Timespec::new(i64::MAX - 1, MAX_NSEC).saturating_add(ns(1)), Timespec::new(i64::MAX, 0));
    let end = Timespec::new(i64::MAX, MAX_NSEC);
    assert_eq!(Timespec::new(i64::MAX, MAX_NSEC).saturating_add(ns(1)), end);
    assert_eq!(Timespec::new(i64::MAX, 0).saturating_add(Duration::from_secs(1)), end);
    assert_eq!(Timespec::new(0, 0).saturating_add(Duration::MAX), end);
    assert_eq!(Timespec::new(1, 0).saturating_add(Duration::MAX), end);
    assert_eq!(Timespec::new(0, 0).saturating_add(Duration::from_secs(i64::MAX as u64)), Timespec::new(i64::MAX, 0));
    assert_eq!(Timespec::new(5, 7).saturating_add(Duration::ZERO), Timespec::new(5, 7));
}

#[test]
fn timespec_sub_borrows_and_saturates_at_i64_min() {
    let ns = Duration::from_nanos;
    let start = Timespec::new(i64::MIN, 0);
    assert_eq!(Timespec::new(2, 0).saturating_sub(ns(1)), Timespec::new(1, MAX_NSEC));
    assert_eq!(Timespec::new(0, 0).saturating_sub(Duration::new(1, 1)), Timespec::new(-2, MAX_NSEC));
    assert_eq!(Timespec::new(i64::MIN + 1, 0).saturating_sub(ns(1)), Timespec::new(i64::MIN, MAX_NSEC));
    assert_eq!(Timespec::new(i64::MIN, 1).saturating_sub(ns(1)), start);
    assert_eq!(Timespec::new(i64::MIN, 0).saturating_sub(ns(1)), start);
    assert_eq!(Timespec::new(-1, 0).saturating_sub(Duration::from_secs(i64::MAX as u64)), start);
    assert_eq!(Timespec::new(5, 7).saturating_sub(Duration::ZERO), Timespec::new(5, 7));
}

/// Durations longer than `i64::MAX` seconds on a base far from the edge it moves towards:
/// the exact result still fits or lies past the edge, so it must be exact or saturated.
#[test]

fn timespec_arithmetic_with_durations_beyond_i64_seconds_is_exact_or_saturated() {
    let end = Timespec::new(i64::MAX, MAX_NSEC);
    let start = Timespec::new(i64::MIN, 0);
    // i64::MIN + (2^64 - 1) s = i64::MAX s, exactly.
    assert_eq!(Timespec::new(i64::MIN, 0).saturating_add(Duration::MAX), end);
    assert_eq!(Timespec::new(-1, 0).saturating_add(Duration::MAX), end);
    // i64::MAX - (2^64 - 1) s = i64::MIN s, exactly.
    assert_eq!(Timespec::new(i64::MAX, MAX_NSEC).saturating_sub(Duration::MAX), start);
    assert_eq!(Timespec::new(1, 0).saturating_sub(Duration::MAX), start);
    // A nanosecond borrow below i64::MAX seconds: 0 - (2^64 - 1 s + 999_999_999 ns).
    assert_eq!(Timespec::new(0, 0).saturating_sub(Duration::MAX), start);
    // A nanosecond carry on top of i64::MAX seconds overflows: saturate, do not drop it.
    assert_eq!(Timespec::new(0, MAX_NSEC).saturating_add(Duration::new(i64::MAX as u64, 1)), end);
}

#[test]
fn timespec_duration_since_is_zero_unless_later_and_exact_across_the_range() {
    let t = Timespec::new;
    assert_eq!(t(2, 0).saturating_duration_since(t(1, MAX_NSEC)), Duration::from_nanos(1));
    assert_eq!(t(1, 0).saturating_duration_since(t(1, 0)), Duration::ZERO);
    assert_eq!(t(1, 0).saturating_duration_since(t(2, 0)), Duration::ZERO);
    assert_eq!(t(1, 0).saturating_duration_since(t(-1, 500)), Duration::new(1, 999_999_500));
    assert_eq!(t(i64::MAX, 0).saturating_duration_since(t(i64::MIN, 0)), Duration::from_secs(u64::MAX));
    assert_eq!(t(i64::MAX, 0).saturating_duration_since(t(i64::MIN, 1)), Duration::new(u64::MAX - 1, MAX_NSEC as u32));
    assert_eq!(t(i64::MIN, 0).saturating_duration_since(t(i64::MAX, MAX_NSEC)), Duration::ZERO);
}

#[test]
fn timespec_orders_by_seconds_then_nanoseconds() {
    let t = Timespec::new;
    assert!(t(1, MAX_NSEC) < t(2, 0));
    assert!(t(-1, 5) < t(0, 0));
    assert!(t(i64::MIN, 0) < t(i64::MAX, MAX_NSEC));
    assert!(t(3, 1) > t(3, 0));
    assert!(t(0, 0).is_normalized() && t(0, MAX_NSEC).is_normalized());
    assert!(!t(0, -1).is_normalized() && !t(0, 1_000_000_000).is_normalized());
    assert_eq!(Timespec::default(), t(0, 0));
}

#[test]
fn deadline_from_a_future_instant_is_monotonic_and_ahead() {
    let d = Deadline::from(Instant::now() + Duration::from_secs(10));
    assert_eq!(d.clock(), Clock::Monotonic);
    assert!(!d.has_passed());
    let left = d.remaining();
    assert!(left > Duration::from_secs(8) && left <= Duration::from_secs(10), "{left:?}");
    let ahead = d.at().saturating_duration_since(Clock::Monotonic.now());
    assert!(ahead > Duration::from_secs(8) && ahead <= Duration::from_secs(10), "{ahead:?}");
}

#[test]
fn deadline_from_a_past_instant_has_passed() {
    let Some(past) = Instant::now().checked_sub(Duration::from_millis(1500)) else {
        return; // the clock started less than 1.5 s ago: nothing to convert
    };
    let d = Deadline::from(past);
    assert_eq!(d.clock(), Clock::Monotonic);
    assert!(d.has_passed());
    assert_eq!(d.remaining(), Duration::ZERO);
    let behind = Clock::Monotonic.now().saturating_duration_since(d.at());
    assert!(behind >= Duration::from_millis(1499) && behind < Duration::from_secs(5), "{behind:?}");
    assert!(d.at().is_normalized());
}

#[test]
fn deadline_from_system_time_is_realtime_and_exact() {
    let d = Deadline::from(UNIX_EPOCH + Duration::new(1_700_000_000, 123));
    assert_eq!((d.clock(), d.at()), (Clock::Realtime, Timespec::new(1_700_000_000, 123)));
    assert!(d.has_passed());
    let d = Deadline::from(SystemTime::now() + Duration::from_secs(10));
    assert_eq!(d.clock(), Clock::Realtime);
    assert!(!d.has_passed());
    assert!(d.remaining() > Duration::from_secs(8), "{:?}", d.remaining());
    assert_eq!(Deadline::from(UNIX_EPOCH).at(), Timespec::new(0, 0));
}

#[test]
fn deadline_from_system_time_before_the_epoch_is_normalized_and_passed() {
    let d = Deadline::from(UNIX_EPOCH - Duration::new(1, 500_000_000));
    assert_eq!((d.clock(), d.at()), (Clock::Realtime, Timespec::new(-2, 500_000_000)));
    assert_eq!(Deadline::from(UNIX_EPOCH - Duration::from_nanos(1)).at(), Timespec::new(-1, MAX_NSEC));
    assert_eq!(Deadline::from(UNIX_EPOCH - Duration::from_secs(3)).at(), Timespec::new(-3, 0));
    assert!(d.has_passed());
    assert_eq!(d.remaining(), Duration::ZERO);
    let chan = 0u8;
    assert_eq!(Sleep::on(&chan).until(d).wait(), Err(Error::TimedOut));
}

#[test]
fn deadline_after_is_monotonic_and_saturates() {
    let d = Deadline::after(Duration::from_secs(10));
    assert_eq!(d.clock(), Clock::Monotonic);
    assert!(d.remaining() > Duration::from_secs(8) && d.remaining() <= Duration::from_secs(10));
    assert_eq!(Deadline::after(Duration::MAX).at(), Timespec::new(i64::MAX, MAX_NSEC));
    assert_eq!(Deadline::after(Duration::from_secs(u64::MAX)).at(), Timespec::new(i64::MAX, MAX_NSEC));
    assert!(Deadline::after(Duration::ZERO).has_passed());
}

#[test]
fn clocks_round_trip_their_raw_ids_and_tick() {
    for clock in [Clock::Realtime, Clock::Monotonic] {
        #[cfg(unix)]
        assert_eq!(Clock::from_raw(clock.as_raw()), Ok(clock));
        let (a, b) = (clock.now(), clock.now());
        assert!(a.is_normalized() && b.is_normalized());
        assert!(b >= a || clock == Clock::Realtime, "monotonic never goes back");
    }
    let wall = Clock::Realtime.now();
    let std_wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    assert!((wall.sec - std_wall.as_secs() as i64).abs() <= 1, "{wall:?} vs {std_wall:?}");
}

/// Issue 9 item 5: a distance larger than a `Duration` holds saturates instead of wrapping
/// (it gave 9223372035.85 s before).
#[test]
fn timespec_duration_since_saturates_at_duration_max_for_unnormalized_extremes() {
    let t = Timespec::new;
    assert_eq!(t(i64::MAX, i64::MAX).saturating_duration_since(t(i64::MIN, 0)), Duration::MAX);
    assert_eq!(t(i64::MAX, i64::MAX).saturating_duration_since(t(i64::MIN, i64::MIN)), Duration::MAX);
    assert_eq!(t(i64::MIN, 0).saturating_duration_since(t(i64::MAX, i64::MAX)), Duration::ZERO);
    assert_eq!(t(i64::MIN, i64::MIN).saturating_duration_since(t(i64::MAX, i64::MAX)), Duration::ZERO);
    // Just inside the range a Duration holds, the answer is exact.
    assert_eq!(t(0, 1_000_000_000).saturating_duration_since(t(0, 0)), Duration::from_secs(1));
    assert_eq!(t(1, -1).saturating_duration_since(t(0, 0)), Duration::from_nanos(MAX_NSEC as u64));
    assert_eq!(t(0, i64::MAX).saturating_duration_since(t(0, i64::MIN)), Duration::new(18_446_744_073, 709_551_615));
}

/// Ordering, equality and hashing go by the time a timespec denotes, so unnormalized fields
/// never compare field by field.
#[test]
fn timespec_compares_and_hashes_by_value_even_unnormalized() {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};
    let t = Timespec::new;
    let hash = |ts: Timespec| {
        let mut h = DefaultHasher::new();
        ts.hash(&mut h);
        h.finish()
    };
    let same = [(t(1, 0), t(0, 1_000_000_000)), (t(0, MAX_NSEC), t(1, -1)), (t(-1, 0), t(0, -1_000_000_000))];
    for (a, b) in same {
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);
        assert_eq!(hash(a), hash(b), "{a:?} and {b:?} are equal, so they hash alike");
    }
    // Field by field, (0, 2e9) < (1, 0); by value it is 2 s > 1 s.
    assert!(t(0, 2_000_000_000) > t(1, 0));
    assert!(t(5, -1) < t(5, 0) && t(5, -1) > t(4, 999_999_998));
    assert!(t(i64::MAX, i64::MIN) < t(i64::MAX, 0));
    assert!(t(i64::MIN, i64::MAX) > t(i64::MIN, 0));
    assert!(t(i64::MIN, i64::MIN) < t(i64::MIN, 0) && t(i64::MAX, i64::MAX) > t(i64::MAX, MAX_NSEC));
    let mut v = vec![t(2, -1_500_000_000), t(0, 0), t(1, -1), t(-1, 1_999_999_999)];
    v.sort();
    assert_eq!(v, [t(0, 0), t(0, 500_000_000), t(0, MAX_NSEC), t(0, MAX_NSEC)]);
}

/// Adding to or subtracting from an unnormalized timespec is exact and saturating at the
/// extremes of i64, never a wrap.
#[test]
fn timespec_add_and_sub_of_unnormalized_extremes_saturate() {
    let t = Timespec::new;
    let (end, start) = (t(i64::MAX, MAX_NSEC), t(i64::MIN, 0));
    assert_eq!(t(i64::MAX, i64::MAX).saturating_add(Duration::ZERO), end);
    assert_eq!(t(i64::MAX, i64::MAX).saturating_add(Duration::MAX), end);
    assert_eq!(t(i64::MIN, i64::MIN).saturating_sub(Duration::ZERO), start);
    assert_eq!(t(i64::MIN, i64::MIN).saturating_sub(Duration::MAX), start);
    assert_eq!(t(i64::MIN, i64::MIN).saturating_add(Duration::MAX), t(9_223_372_027_631_403_771, 145_224_191));
    assert_eq!(t(1, -1).saturating_add(Duration::from_nanos(1)), t(1, 0));
    assert_eq!(t(0, 3_000_000_001).saturating_sub(Duration::from_secs(1)), t(2, 1));
    assert!(t(3, -7).saturating_add(Duration::ZERO).is_normalized());
}
