//! loom models of the OpenBSD face: `Sleep` and `wakeup` (invariants 1, 2 and 4 of
//! DESIGN.md), run together with wchan's table and parker, which `--cfg loom` switches to
//! loom's atomics, locks and thread park.
//!
//! The sleepers all follow the canonical handshake: under a `SpinLock` a sleeper either sees
//! `done` (the waker has been) and leaves, or records itself in `asleep` and sleeps
//! `.unlocking(guard)`. The waker takes the lock once, sets `done` and reads `asleep`: that
//! snapshot says exactly which sleepers it must find, so every model asserts exact results.
//! A sleeper that is never woken makes loom report a deadlock, which fails the model too.
#![cfg(loom)]

use std::time::Duration;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::{channel, model_reaching, start, Outcomes, SPARE};
use wchan::{wakeup, Deadline, Error, Sleep, SpinLock};

/// The handshake state guarded by the `SpinLock`.
#[derive(Default)]
struct Shared {
    /// The waker has taken its snapshot: a sleeper that comes later must not sleep.
    done: bool,
    /// How many sleepers went to sleep (recorded under the lock, right before sleeping).
    asleep: usize,
}

/// A channel id as the pointer `Sleep::on` and `wakeup` take.
fn chan(key: usize) -> *const u8 {
    key as *const u8
}

/// Invariant 1 (hand-off): the sleeper is queued before its guard is released, so a waker
/// that takes the lock after the release and sees "asleep" always finds it.
#[test]
fn wakeup_after_the_guard_is_released_always_finds_the_sleeper() {
    model_reaching(&["woken", "never slept"], |outcomes: &Outcomes| {
        let key = channel(0);
        let lock = Arc::new(SpinLock::new(Shared::default()));
        let sleeper = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut shared = lock.lock();
                if shared.done {
                    return false;
                }
                shared.asleep += 1;
                assert_eq!(Sleep::on(chan(key)).unlocking(shared).wait(), Ok(()));
                true
            })
        };
        let mut shared = lock.lock();
        shared.done = true;
        let expected = if shared.asleep == 1 { Ok(1) } else { Err(Error::NoWaiters) };
        assert_eq!(wakeup(chan(key), 1), expected);
        drop(shared);
        assert_eq!(sleeper.join().unwrap(), expected.is_ok());
        outcomes.saw(if expected.is_ok() { "woken" } else { "never slept" });
    });
}

/// Invariant 2 (abort): a flag set before a `wakeup` of the channel is never missed. The flag
/// and its store are Relaxed on purpose: only the SeqCst fences of the table's Dekker pair
/// (enqueue / `has_sleepers`) order it, and the model checks that they do.
#[test]
fn abort_flag_set_before_wakeup_is_never_missed() {
    wchan::loom::model(|| {
        let key = channel(0);
        let abort = Arc::new(AtomicBool::new(false));
        let sleeper = {
            let abort = abort.clone();
            thread::spawn(move || Sleep::on(chan(key)).abort_if(&abort).wait())
        };
        abort.store(true, Ordering::Relaxed);
        let woke = wakeup(chan(key), 0);
        let slept = sleeper.join().unwrap();
        // Either the wakeup took the sleeper off the queue (and it reports success even if it
        // saw the flag too), or it found nobody and the sleeper saw the flag.
        match woke {
            Ok(1) => assert_eq!(slept, Ok(())),
            Err(Error::NoWaiters) => assert_eq!(slept, Err(Error::Interrupted)),
            other => panic!("wakeup returned {other:?}"),
        }
    });
}

/// Invariant 2 (abort): a sleeper whose flag was set before it took its lock never blocks,
/// even though it queues first and checks the flag only after releasing the guard. The flag
/// reaches it through the lock alone (a Relaxed store before the unlock). Nobody calls
/// `wakeup` here, so blocking would be a deadlock, which loom reports.
#[test]
fn sleeper_never_blocks_with_the_abort_flag_set() {
    wchan::loom::model(|| {
        let key = channel(0);
        let lock = Arc::new(SpinLock::new(()));
        let abort = Arc::new(AtomicBool::new(false));
        let guard = lock.lock();
        let sleeper = {
            let (lock, abort) = (lock.clone(), abort.clone());
            thread::spawn(move || {
                let guard = lock.lock();
                Sleep::on(chan(key)).abort_if(&abort).unlocking(guard).wait()
            })
        };
        abort.store(true, Ordering::Relaxed);
        drop(guard);
        assert_eq!(sleeper.join().unwrap(), Err(Error::Interrupted));
        // It took itself off the queue: nothing is left to wake.
        assert_eq!(wakeup(chan(key), 0), Err(Error::NoWaiters));
    });
}

/// Spawns `n` handshake sleepers on `key`; each returns its `wait` result (None: it saw
/// `done` and never slept) and counts itself in `returned` once `wait` has returned.
fn spawn_sleepers(
    n: usize,
    key: usize,
    deadline: Option<Deadline>,
    lock: &Arc<SpinLock<Shared>>,
    returned: &Arc<AtomicUsize>,
) -> Vec<thread::JoinHandle<Option<Result<(), Error>>>> {
    (0..n)
        .map(|_| {
            let (lock, returned) = (lock.clone(), returned.clone());
            thread::spawn(move || {
                let mut shared = lock.lock();
                if shared.done {
                    return None;
                }
                shared.asleep += 1;
                let mut sleep = Sleep::on(chan(key)).unlocking(shared);
                if let Some(deadline) = deadline {
                    sleep = sleep.until(deadline);
                }
                let result = sleep.wait();
                returned.fetch_add(1, Ordering::Relaxed);
                Some(result)
            })
        })
        .collect()
}

/// Invariant 4 (exact counts): `wakeup(id, 1)` with two sleepers takes exactly one off the
/// queue; the other stays asleep (has not returned) until the next `wakeup` takes it.
#[test]
fn wakeup_one_of_two_wakes_exactly_one_and_the_other_stays_asleep() {
    wchan::loom::model(|| {
        let key = channel(0);
        let lock = Arc::new(SpinLock::new(Shared::default()));
        let returned = Arc::new(AtomicUsize::new(0));
        let sleepers = spawn_sleepers(2, key, None, &lock, &returned);
        let mut shared = lock.lock();
        shared.done = true;
        let asleep = shared.asleep;
        drop(shared);
        if asleep == 0 {
            assert_eq!(wakeup(chan(key), 1), Err(Error::NoWaiters));
        } else {
            assert_eq!(wakeup(chan(key), 1), Ok(1));
            // The first woken may have returned; the other may not, whatever the schedule.
            assert!(returned.load(Ordering::Relaxed) <= 1, "a sleeper returned without a wakeup");
            let second = if asleep == 2 { Ok(1) } else { Err(Error::NoWaiters) };
            assert_eq!(wakeup(chan(key), 1), second);
        }
        let results: Vec<_> = sleepers.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| **r == Some(Ok(()))).count(), asleep);
        assert_eq!(results.iter().filter(|r| r.is_none()).count(), 2 - asleep);
    });
}

/// Invariant 4 (exact counts): `wakeup(id, 0)` wakes every sleeper and reports how many.
#[test]
fn wakeup_zero_wakes_both_sleepers() {
    wchan::loom::model(|| {
        let key = channel(0);
        let lock = Arc::new(SpinLock::new(Shared::default()));
        let returned = Arc::new(AtomicUsize::new(0));
        let sleepers = spawn_sleepers(2, key, None, &lock, &returned);
        let mut shared = lock.lock();
        shared.done = true;
        let asleep = shared.asleep;
        let expected = if asleep == 0 { Err(Error::NoWaiters) } else { Ok(asleep) };
        assert_eq!(wakeup(chan(key), 0), expected);
        drop(shared);
        let results: Vec<_> = sleepers.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| **r == Some(Ok(()))).count(), asleep);
        assert_eq!(returned.load(Ordering::Relaxed), asleep);
    });
}

/// Invariant 4 against time: under loom a future deadline "may expire whenever the thread
/// would block", so each sleeper's deadline races the wakeup. Every sleeper is either woken
/// and counted by `wakeup`, or times out and is not counted; never both, never neither.
#[test]
fn woken_or_timed_out_never_both() {
    model_reaching(&["one woken, one timed out", "both woken", "both timed out"], |outcomes: &Outcomes| {
        let key = channel(0);
        let lock = Arc::new(SpinLock::new(Shared::default()));
        let returned = Arc::new(AtomicUsize::new(0));
        let deadline = Deadline::after(Duration::from_secs(3600));
        let sleepers = spawn_sleepers(2, key, Some(deadline), &lock, &returned);
        let mut shared = lock.lock();
        shared.done = true;
        let asleep = shared.asleep;
        drop(shared);
        let counted = wakeup(chan(key), 0).or_else(|e| if e == Error::NoWaiters { Ok(0) } else { Err(e) }).unwrap();
        let results: Vec<_> = sleepers.into_iter().map(|t| t.join().unwrap()).collect();
        let woken = results.iter().filter(|r| **r == Some(Ok(()))).count();
        let timed_out = results.iter().filter(|r| **r == Some(Err(Error::TimedOut))).count();
        assert_eq!(woken, counted, "wakeup's count differs from the sleepers that report success");
        assert_eq!(woken + timed_out, asleep, "a sleeper ended some other way: {results:?}");
        match (woken, timed_out) {
            (1, 1) => outcomes.saw("one woken, one timed out"),
            (2, 0) => outcomes.saw("both woken"),
            (0, 2) => outcomes.saw("both timed out"),
            _ => {}
        }
    });
}

/// Collisions: two channels that share a bucket (and its lock and list) never wake each
/// other's sleepers.
#[test]
fn colliding_channels_never_wake_each_others_sleepers() {
    loom::model(|| {
        let (a, b) = (channel(0), channel(1));
        start(&[a, SPARE, b]);
        assert_eq!(wchan::park::bucket_index(a), wchan::park::bucket_index(b));
        let lock = Arc::new(SpinLock::new((false, [false; 2])));
        let returned = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let sleepers: Vec<_> = [a, b]
            .into_iter()
            .enumerate()
            .map(|(i, key)| {
                let (lock, returned) = (lock.clone(), returned.clone());
                thread::spawn(move || {
                    let mut shared = lock.lock();
                    if shared.0 {
                        return;
                    }
                    shared.1[i] = true;
                    assert_eq!(Sleep::on(chan(key)).unlocking(shared).wait(), Ok(()));
                    returned[i].store(true, Ordering::Relaxed);
                })
            })
            .collect();
        let mut shared = lock.lock();
        shared.0 = true;
        let asleep = shared.1;
        drop(shared);
        let expect = |asleep: bool| if asleep { Ok(1) } else { Err(Error::NoWaiters) };
        assert_eq!(wakeup(chan(a), 0), expect(asleep[0]));
        assert!(!returned[1].load(Ordering::Relaxed), "waking channel a woke b's sleeper");
        assert_eq!(wakeup(chan(b), 0), expect(asleep[1]));
        for t in sleepers {
            t.join().unwrap();
        }
    });
}
