//! Every invalid or extreme input the API accepts at run time gets a defined result: never a
//! hang, never a panic (the one documented panic: a `Condvar` used with two mutexes at once).
//! `docs/reliability.md` lists each input, its result and the test here that proves it.
//!
//! SAFETY (every `unsafe` call into `wchan::park` here): the key is an address this file owns
//! (a local, a leaked box or a static of its own) and every park and unpark on it follows the
//! protocol of the primitive or test around it.
mod common;
#[cfg(unix)]
#[path = "common/cpu_time.rs"]
mod cpu_time;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use common::{wait_until, watchdog, HANG};
#[cfg(unix)]
use cpu_time::thread_cpu_time;
use wchan::park::{self, ParkOptions, ParkResult, RequeueOp, UnparkToken, DEFAULT_UNPARK_TOKEN};
use wchan::{wakeup, Clock, Condvar, Deadline, Error, Mutex, Sleep, SpinLock, Timespec};

/// Starts `n` threads that each announce themselves under `lock` and sleep on `lock`'s
/// address `.unlocking` the guard (optionally until `deadline`); returns once all are queued.
fn sleepers(
    lock: &Arc<SpinLock<usize>>,
    n: usize,
    deadline: Option<Deadline>,
) -> Vec<std::thread::JoinHandle<Result<(), Error>>> {
    let handles = (0..n)
        .map(|_| {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let mut g = lock.lock();
                *g += 1;
                let sleep = Sleep::on(&*lock).unlocking(g);
                match deadline {
                    Some(d) => sleep.until(d).wait(),
                    None => sleep.wait(),
                }
            })
        })
        .collect();
    wait_until(HANG, "all sleepers queued", || *lock.lock() == n);
    handles
}

#[test]
fn null_id_sleep_is_invalid_argument_and_releases_the_guard() {
    watchdog(HANG, || {
        let lock = SpinLock::new(());
        let g = lock.lock();
        let r = Sleep::on(std::ptr::null::<u8>()).until(Deadline::after(HANG)).unlocking(g).wait();
        assert_eq!(r, Err(Error::InvalidArgument));
        assert_eq!(r.unwrap_err().errno(), libc::EINVAL);
        assert!(!lock.is_locked(), "the guard was released");
    });
}

#[test]
fn null_id_wakeup_is_invalid_argument() {
    assert_eq!(wakeup(std::ptr::null::<u8>(), 1), Err(Error::InvalidArgument));
    assert_eq!(wakeup(std::ptr::null::<u8>(), 0), Err(Error::InvalidArgument));
    assert_eq!(wakeup(std::ptr::null::<u8>(), usize::MAX), Err(Error::InvalidArgument));
}

#[test]
fn bad_nsec_is_invalid_argument() {
    for nsec in [-1, 1_000_000_000, i64::MIN, i64::MAX] {
        for clock in [Clock::Monotonic, Clock::Realtime] {
            assert_eq!(Deadline::new(clock, Timespec::new(5, nsec)), Err(Error::InvalidArgument), "nsec {nsec}");
        }
        #[cfg(unix)]
        assert_eq!(Deadline::from_raw(libc::CLOCK_MONOTONIC, Timespec::new(5, nsec)), Err(Error::InvalidArgument));
    }
    assert!(Deadline::new(Clock::Monotonic, Timespec::new(5, 999_999_999)).is_ok());
    assert!(Deadline::new(Clock::Monotonic, Timespec::new(5, 0)).is_ok());
}

/// Unix only: other targets have no clock ids, and `Clock::from_raw` does not exist there.
/// The CPU-time clocks (and Linux's `CLOCK_BOOTTIME`) are rejected on purpose: OpenBSD's
/// `thrsleep` accepts them, but wchan's parkers keep absolute deadlines only on realtime and
/// monotonic (see `Clock::from_raw`).
#[cfg(unix)]
#[test]
fn unknown_clock_id_is_invalid_argument() {
    // `clockid_t` is signed on Linux and the BSDs, unsigned on Apple: -1 is `u32::MAX` there.
    #[allow(clippy::unnecessary_cast, unused_mut)]
    let mut ids = vec![libc::CLOCK_PROCESS_CPUTIME_ID, libc::CLOCK_THREAD_CPUTIME_ID, -1i32 as libc::clockid_t, 12345];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ids.push(libc::CLOCK_BOOTTIME);
    for id in ids {
        assert_eq!(Clock::from_raw(id), Err(Error::InvalidArgument), "clock {id}");
        assert_eq!(Deadline::from_raw(id, Timespec::new(1, 0)), Err(Error::InvalidArgument), "clock {id}");
    }
    assert_eq!(Deadline::from_raw(libc::CLOCK_REALTIME, Timespec::new(1, 0)).unwrap().clock(), Clock::Realtime);
}

#[test]
fn deadline_in_the_past_times_out_at_once_and_releases_the_guard() {
    watchdog(HANG, || {
        let chan = 0u8;
        let lock = SpinLock::new(());
        let past = [
            Deadline::new(Clock::Monotonic, Timespec::new(0, 0)).unwrap(),
            Deadline::new(Clock::Realtime, Timespec::new(0, 0)).unwrap(),
            Deadline::new(Clock::Monotonic, Timespec::new(-5, 0)).unwrap(),
            Deadline::new(Clock::Realtime, Timespec::new(i64::MIN, 0)).unwrap(),
            Deadline::from(UNIX_EPOCH - Duration::from_secs(1)),
            Deadline::from(Instant::now()),
            Deadline::after(Duration::ZERO),
            Deadline::new(Clock::Monotonic, Clock::Monotonic.now()).unwrap(),
        ];
        for d in past {
            let start = Instant::now();
            let g = lock.lock();
            assert_eq!(Sleep::on(&chan).until(d).unlocking(g).wait(), Err(Error::TimedOut), "{d:?}");
            assert!(!lock.is_locked(), "guard released for {d:?}");
            assert!(start.elapsed() < Duration::from_secs(2), "at once for {d:?}");
            // Nothing was queued, and park ran no callback.
            assert_eq!(wakeup(&chan, 0), Err(Error::NoWaiters));
            let called = AtomicBool::new(false);
            let r = unsafe {
                park::park(
                    &chan as *const u8 as usize,
                    ParkOptions::new().deadline(d),
                    || called.swap(true, Ordering::Relaxed),
                    || {},
                    |_, _| {},
                )
            };
            assert_eq!(r, ParkResult::TimedOut);
            assert!(!called.load(Ordering::Relaxed), "validate did not run for {d:?}");
        }
    });
}

/// A deadline at the very end of time on either clock sleeps until woken: it neither fails
/// nor spins (the sleeper's CPU time while asleep stays small). On a 32-bit `time_t` (i686,
/// run in CI) every one of these once spun at 100% CPU: the deadline was cast into a wrapped
/// `time_t`, the kernel said EINVAL, and that was taken for a spurious return. Unix only (the
/// CPU-time clock); `tests/deadline.rs` checks "sleeps until woken" everywhere.
#[cfg(unix)]
#[test]
fn far_future_deadline_up_to_i64_max_seconds_sleeps_until_woken() {
    watchdog(HANG, || {
        let far = [
            Deadline::new(Clock::Monotonic, Timespec::new(i64::MAX, 999_999_999)).unwrap(),
            Deadline::new(Clock::Realtime, Timespec::new(i64::MAX, 999_999_999)).unwrap(),
            Deadline::new(Clock::Realtime, Timespec::new(i64::MAX / 2, 0)).unwrap(),
            Deadline::new(Clock::Monotonic, Timespec::new(1 << 40, 0)).unwrap(),
            Deadline::after(Duration::MAX),
            Deadline::after(Duration::from_secs(u64::MAX / 2)),
            Deadline::from(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)),
            // Just past what a 32-bit time_t holds (January 2038), on both clocks.
            Deadline::new(Clock::Realtime, Timespec::new(1 << 31, 0)).unwrap(),
            Deadline::new(Clock::Monotonic, Timespec::new(1 << 31, 0)).unwrap(),
            Deadline::new(Clock::Realtime, Timespec::new(u32::MAX as i64 + 1, 0)).unwrap(),
        ];
        for d in far {
            let lock = Arc::new(SpinLock::new(false));
            let sleeper = {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    let mut g = lock.lock();
                    *g = true;
                    let cpu = thread_cpu_time();
                    let r = Sleep::on(&*lock).until(d).unlocking(g).wait();
                    (r, thread_cpu_time() - cpu)
                })
            };
            wait_until(HANG, "the sleeper to queue", || *lock.lock());
            // Let it sit asleep for a while: a sleeper that spun would burn this much CPU.
            std::thread::sleep(Duration::from_millis(200));
            assert!(!sleeper.is_finished(), "{d:?} must not end the sleep");
            assert_eq!(wakeup(&*lock, 1), Ok(1));
            let (r, cpu) = sleeper.join().unwrap();
            assert_eq!(r, Ok(()), "{d:?}");
            assert!(cpu < Duration::from_millis(100), "{d:?}: the sleeper used {cpu:?} of CPU while asleep");
        }
    });
}

#[test]
fn wakeup_n_larger_than_the_sleepers_wakes_exactly_those_asleep() {
    watchdog(HANG, || {
        let lock = Arc::new(SpinLock::new(0usize));
        let hs = sleepers(&lock, 3, None);
        assert_eq!(wakeup(&*lock, 10), Ok(3));
        for h in hs {
            assert_eq!(h.join().unwrap(), Ok(()));
        }
        assert_eq!(wakeup(&*lock, 10), Err(Error::NoWaiters));
    });
}

#[test]
fn wakeup_with_n_usize_max_wakes_all_and_counts_them() {
    watchdog(HANG, || {
        let lock = Arc::new(SpinLock::new(0usize));
        let hs = sleepers(&lock, 4, Some(Deadline::after(HANG)));
        assert_eq!(wakeup(&*lock, usize::MAX), Ok(4));
        for h in hs {
            assert_eq!(h.join().unwrap(), Ok(()));
        }
        let key = &*lock as *const SpinLock<usize> as usize;
        assert_eq!(unsafe { park::unpark_n(key, usize::MAX, DEFAULT_UNPARK_TOKEN) }, 0);
        assert_eq!(unsafe { park::unpark_n(key, 0, DEFAULT_UNPARK_TOKEN) }, 0, "n = 0 wakes none in park's API");
    });
}

#[test]
fn abort_flag_already_set_is_interrupted_and_nothing_stays_queued() {
    watchdog(HANG, || {
        let chan = 0u8;
        let flag = AtomicBool::new(true);
        let lock = SpinLock::new(());
        let g = lock.lock();
        let r = Sleep::on(&chan).abort_if(&flag).until(Deadline::after(HANG)).unlocking(g).wait();
        assert_eq!(r, Err(Error::Interrupted));
        assert_eq!(r.unwrap_err().errno(), libc::EINTR);
        assert!(!lock.is_locked());
        assert_eq!(wakeup(&chan, 0), Err(Error::NoWaiters), "the aborted sleeper left the queue");
        // An abort and a past deadline together: the deadline is checked first (no queueing).
        let past = Deadline::new(Clock::Monotonic, Timespec::new(0, 0)).unwrap();
        assert_eq!(Sleep::on(&chan).abort_if(&flag).until(past).wait(), Err(Error::TimedOut));
    });
}

#[test]
fn interrupt_outside_a_sleep_does_nothing() {
    watchdog(HANG, || {
        wchan::interrupt();
        wchan::interrupt();
        // The next sleep is not cut short by the earlier calls.
        let start = Instant::now();
        let r = Sleep::on(&0u8).until(Deadline::after(Duration::from_millis(30))).wait();
        assert_eq!(r, Err(Error::TimedOut));
        assert!(start.elapsed() >= Duration::from_millis(30));
    });
}

/// A timed lock with a huge timeout on a held mutex blocks, without spinning, until the lock
/// is released (issue 9 item 5: on i686 it busy-looped).
#[cfg(unix)]
#[test]
fn far_future_deadline_of_try_lock_for_a_huge_timeout_blocks_without_spinning_until_unlocked() {
    watchdog(HANG, || {
        for timeout in [Duration::MAX, Duration::from_secs(u64::MAX / 2), Duration::from_secs(1 << 32)] {
            let m = Arc::new(Mutex::new(0u32));
            let guard = m.lock();
            let started = Arc::new(AtomicBool::new(false));
            let waiter = {
                let (m, started) = (m.clone(), started.clone());
                std::thread::spawn(move || {
                    let cpu = thread_cpu_time();
                    started.store(true, Ordering::SeqCst);
                    let got = m.try_lock_for(timeout).map(|mut g| {
                        *g += 1;
                        *g
                    });
                    (got, thread_cpu_time() - cpu)
                })
            };
            wait_until(HANG, "the waiter to start", || started.load(Ordering::SeqCst));
            // Long enough for a spinning waiter to burn far more CPU than the bound below.
            std::thread::sleep(Duration::from_millis(300));
            assert!(!waiter.is_finished(), "{timeout:?}: try_lock_for gave up on a held lock");
            drop(guard);
            let (got, cpu) = waiter.join().unwrap();
            assert_eq!(got, Some(1), "{timeout:?}");
            assert!(cpu < Duration::from_millis(100), "{timeout:?}: the waiter used {cpu:?} of CPU while blocked");
        }
    });
}

#[test]
fn timed_lock_with_extreme_deadlines_is_defined() {
    watchdog(HANG, || {
        let m = Mutex::new(0u32);
        // Free lock: any timeout, even a huge one or a passed deadline, takes it at once.
        assert!(m.try_lock_for(Duration::MAX).is_some());
        assert!(m.try_lock_for(Duration::ZERO).is_some());
        assert!(m.try_lock_until(Deadline::new(Clock::Realtime, Timespec::new(i64::MIN, 0)).unwrap()).is_some());
        // Held lock: a passed deadline or a zero timeout fails at once.
        let _g = m.lock();
        let start = Instant::now();
        assert!(m.try_lock_for(Duration::ZERO).is_none());
        assert!(m.try_lock_until(Deadline::new(Clock::Monotonic, Timespec::new(0, 0)).unwrap()).is_none());
        assert!(m.try_lock_until(UNIX_EPOCH.into()).is_none());
        assert!(start.elapsed() < Duration::from_secs(2));
    });
}

/// `n` threads parked through the park API on `key`, each counting itself in `queued` under
/// the bucket lock (in `validate`), each returning its park result.
fn park_sleepers(key: usize, queued: &Arc<AtomicUsize>, n: usize) -> Vec<std::thread::JoinHandle<ParkResult>> {
    let hs = (0..n)
        .map(|_| {
            let queued = queued.clone();
            std::thread::spawn(move || unsafe {
                let count = || {
                    queued.fetch_add(1, Ordering::SeqCst);
                    true
                };
                park::park(key, ParkOptions::new(), count, || {}, |_, _| {})
            })
        })
        .collect();
    wait_until(HANG, "all sleepers queued", || queued.load(Ordering::SeqCst) == n);
    hs
}

#[test]
fn requeue_onto_the_same_key_keeps_every_sleeper_and_count() {
    watchdog(HANG, || {
        // A word on this stack is the key: every thread parked on it is joined below.
        let word = 0u64;
        let key = &word as *const u64 as usize;
        let queued = Arc::new(AtomicUsize::new(0));
        let hs = park_sleepers(key, &queued, 3);
        let r = unsafe { park::unpark_requeue(key, key, || RequeueOp::RequeueAll, |_, _| DEFAULT_UNPARK_TOKEN) };
        assert_eq!((r.unparked, r.requeued), (0, 3));
        let r = unsafe { park::unpark_requeue(key, key, || RequeueOp::UnparkOneRequeueRest, |_, _| UnparkToken(5)) };
        assert_eq!((r.unparked, r.requeued), (1, 2));
        assert_eq!(unsafe { park::unpark_all(key, UnparkToken(6)) }, 2);
        let mut tokens: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        tokens.sort_by_key(|r| format!("{r:?}"));
        let (t5, t6) = (ParkResult::Unparked(UnparkToken(5)), ParkResult::Unparked(UnparkToken(6)));
        assert_eq!(tokens, [t5, t6, t6]);
        // Requeue from a key with nobody: nothing happens.
        let r = unsafe {
            park::unpark_requeue(key, key + 8, || RequeueOp::UnparkOneRequeueRest, |_, _| DEFAULT_UNPARK_TOKEN)
        };
        assert_eq!((r.unparked, r.requeued, r.have_more), (0, 0, false));
    });
}

/// The one documented panic: waiting on a condvar with a second mutex while a thread waits
/// with the first. The panic comes with no wchan lock held, and the first waiter is unharmed.
#[test]
fn condvar_with_two_mutexes_at_once_panics_and_the_first_waiter_is_unharmed() {
    watchdog(HANG, || {
        let cv = Arc::new(Condvar::new());
        let m1 = Arc::new(Mutex::new(false));
        let m2 = Mutex::new(());
        let waiting = Arc::new(AtomicBool::new(false));
        let first = {
            let (cv, m1, waiting) = (cv.clone(), m1.clone(), waiting.clone());
            std::thread::spawn(move || {
                let mut g = m1.lock();
                waiting.store(true, Ordering::SeqCst);
                while !*g {
                    cv.wait(&mut g);
                }
            })
        };
        // Once we can take m1 after `waiting`, the first thread is queued on the condvar.
        wait_until(HANG, "the first waiter to queue", || waiting.load(Ordering::SeqCst) && m1.try_lock().is_some());
        let mut g2 = m2.lock();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cv.wait_for(&mut g2, HANG)));
        let msg = r.unwrap_err();
        let msg = msg.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(msg.contains("two different mutexes"), "panic message: {msg}");
        assert!(m2.is_locked(), "the second mutex stays held by the panicking waiter's guard");
        drop(g2);
        *m1.lock() = true;
        assert!(cv.notify_one());
        first.join().unwrap();
        assert!(!cv.notify_one(), "nobody left");
    });
}
