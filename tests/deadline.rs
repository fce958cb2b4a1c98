//! Deadlines: passed ones time out at once and still release the guard, future ones expire
//! no earlier than asked on both clocks, invalid ones are rejected, and one at the end of
//! time sleeps until woken.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{wait_until, watchdog, HANG};
use wchan::{wakeup, Clock, Deadline, Error, Sleep, SpinLock, Timespec};

/// Deadlines at or before `clock`'s now: now itself, a second ago, the epoch, before it.
fn passed_deadlines(clock: Clock) -> Vec<Deadline> {
    let now = clock.now();
    [now, Timespec::new(now.sec - 1, now.nsec), Timespec::new(0, 0), Timespec::new(-5, 0), Timespec::new(i64::MIN, 0)]
        .into_iter()
        .map(|at| Deadline::new(clock, at).unwrap())
        .collect()
}

fn passed_deadline_times_out_at_once_and_releases_the_guard(clock: Clock, extra: Option<Deadline>) {
    watchdog(HANG, move || {
        let chan = 0u64;
        let lock = SpinLock::new(());
        for d in passed_deadlines(clock).into_iter().chain(extra) {
            let start = Instant::now();
            let r = Sleep::on(&chan).until(d).unlocking(lock.lock()).wait();
            assert_eq!(r, Err(Error::TimedOut), "{d:?}");
            assert_eq!(r.unwrap_err().errno(), libc::EWOULDBLOCK);
            assert!(!lock.is_locked(), "the guard is released: {d:?}");
            assert!(start.elapsed() < Duration::from_secs(2), "at once: {d:?}");
            assert_eq!(wakeup(&chan, 0), Err(Error::NoWaiters), "nothing stays queued");
        }
    });
}

#[test]
fn deadline_at_or_before_now_times_out_at_once_on_monotonic() {
    passed_deadline_times_out_at_once_and_releases_the_guard(Clock::Monotonic, Some(Deadline::from(Instant::now())));
}

#[test]
fn deadline_at_or_before_now_times_out_at_once_on_realtime() {
    passed_deadline_times_out_at_once_and_releases_the_guard(Clock::Realtime, Some(Deadline::from(SystemTime::now())));
}

/// Sleeps 50 ms on `clock` with nobody waking; the sleep must last at least that long on the
/// same clock and end well within a loose bound.
fn future_deadline_expires_after_the_time_asked(clock: Clock) {
    watchdog(HANG, move || {
        const ASKED: Duration = Duration::from_millis(50);
        let chan = 0u64;
        let lock = SpinLock::new(());
        let start = clock.now();
        let d = Deadline::new(clock, start.saturating_add(ASKED)).unwrap();
        let r = Sleep::on(&chan).until(d).unlocking(lock.lock()).wait();
        let took = clock.now().saturating_duration_since(start);
        assert_eq!(r, Err(Error::TimedOut));
        assert!(!lock.is_locked());
        assert!(d.has_passed(), "returned before the deadline on its own clock");
        assert!(took >= ASKED, "slept {took:?} < {ASKED:?}");
        assert!(took < Duration::from_secs(3), "slept {took:?}, far past the deadline");
        assert_eq!(wakeup(&chan, 0), Err(Error::NoWaiters), "the timed-out sleeper left the queue");
    });
}

#[test]
fn future_deadline_expires_after_at_least_the_time_asked_on_monotonic() {
    future_deadline_expires_after_the_time_asked(Clock::Monotonic);
}

#[test]
fn future_deadline_expires_after_at_least_the_time_asked_on_realtime() {
    future_deadline_expires_after_the_time_asked(Clock::Realtime);
}

#[test]
fn deadline_from_duration_instant_and_system_time_expire_too() {
    watchdog(HANG, || {
        let chan = 0u64;
        let ms20 = Duration::from_millis(20);
        let makers: [fn(Duration) -> Deadline; 3] =
            [Deadline::after, |d| Deadline::from(Instant::now() + d), |d| Deadline::from(SystemTime::now() + d)];
        for make in makers {
            let start = Instant::now();
            let d = make(ms20);
            assert_eq!(Sleep::on(&chan).until(d).wait(), Err(Error::TimedOut), "{d:?}");
            let took = start.elapsed();
            // Instant and the monotonic clock agree; the realtime clock may be a hair apart.
            assert!(took >= Duration::from_millis(19), "{d:?}: slept {took:?}");
            assert!(took < Duration::from_secs(3), "{d:?}: slept {took:?}");
        }
    });
}

#[test]
fn invalid_nsec_is_invalid_argument() {
    for clock in [Clock::Monotonic, Clock::Realtime] {
        for nsec in [-1, 1_000_000_000] {
            let r = Deadline::new(clock, Timespec::new(1, nsec));
            assert_eq!(r, Err(Error::InvalidArgument), "{clock:?} nsec {nsec}");
            assert_eq!(r.unwrap_err().errno(), libc::EINVAL);
            #[cfg(unix)]
            assert_eq!(Deadline::from_raw(clock.as_raw(), Timespec::new(1, nsec)), Err(Error::InvalidArgument));
        }
        for nsec in [0, 999_999_999] {
            let d = Deadline::new(clock, Timespec::new(1, nsec)).unwrap();
            assert_eq!((d.clock(), d.at()), (clock, Timespec::new(1, nsec)));
        }
    }
}

/// Unix only: other targets have no clock ids, and `Clock::from_raw` does not exist there.
#[cfg(unix)]
#[test]
fn unknown_clock_id_is_invalid_argument() {
    // `clockid_t` is signed on Linux and the BSDs, unsigned on Apple: -1 is `u32::MAX` there.
    #[allow(clippy::unnecessary_cast)]
    for id in [-1i32, 2, 3, 7, 11, 12345].map(|id| id as libc::clockid_t) {
        if id == libc::CLOCK_REALTIME || id == libc::CLOCK_MONOTONIC {
            continue;
        }
        assert_eq!(Clock::from_raw(id), Err(Error::InvalidArgument), "clock {id}");
        assert_eq!(Deadline::from_raw(id, Timespec::new(1, 0)), Err(Error::InvalidArgument), "clock {id}");
    }
    assert_eq!(Clock::from_raw(libc::CLOCK_REALTIME), Ok(Clock::Realtime));
    assert_eq!(Clock::from_raw(libc::CLOCK_MONOTONIC), Ok(Clock::Monotonic));
    let d = Deadline::from_raw(libc::CLOCK_MONOTONIC, Timespec::new(3, 4)).unwrap();
    assert_eq!((d.clock(), d.at()), (Clock::Monotonic, Timespec::new(3, 4)));
    let d = Deadline::from_raw(libc::CLOCK_REALTIME, Timespec::new(-3, 999_999_999)).unwrap();
    assert_eq!((d.clock(), d.at()), (Clock::Realtime, Timespec::new(-3, 999_999_999)));
}

/// A sleeper with `deadline` is queued by the spinlock handshake and then woken.
fn far_deadline_sleeps_until_woken(deadline: Deadline) {
    watchdog(HANG, move || {
        assert!(!deadline.has_passed());
        let lock = Arc::new(SpinLock::new(false));
        let sleeper = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let mut g = lock.lock();
                *g = true;
                Sleep::on(&*lock).until(deadline).unlocking(g).wait()
            })
        };
        wait_until(HANG, "sleeper queued", || *lock.lock());
        assert_eq!(wakeup(&*lock, 1), Ok(1), "still asleep: the deadline did not fire at once");
        assert_eq!(sleeper.join().unwrap(), Ok(()));
    });
}

#[test]
fn deadline_at_the_end_of_time_sleeps_until_woken_on_monotonic() {
    far_deadline_sleeps_until_woken(Deadline::new(Clock::Monotonic, Timespec::new(i64::MAX, 999_999_999)).unwrap());
}

#[test]
fn deadline_at_the_end_of_time_sleeps_until_woken_on_realtime() {
    far_deadline_sleeps_until_woken(Deadline::new(Clock::Realtime, Timespec::new(i64::MAX, 999_999_999)).unwrap());
}

#[test]
fn saturated_deadline_after_duration_max_sleeps_until_woken() {
    let d = Deadline::after(Duration::MAX);
    assert_eq!(d.at(), Timespec::new(i64::MAX, 999_999_999));
    far_deadline_sleeps_until_woken(d);
}

#[test]
fn deadline_beyond_the_kernel_range_sleeps_until_woken() {
    // Past what a 64-bit nanosecond count can hold (~292 years), short of i64::MAX seconds.
    far_deadline_sleeps_until_woken(Deadline::new(Clock::Monotonic, Timespec::new(1 << 40, 0)).unwrap());
    far_deadline_sleeps_until_woken(Deadline::new(Clock::Realtime, Timespec::new(1 << 40, 0)).unwrap());
}
