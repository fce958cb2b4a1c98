//! A panic in a user callback run by `wchan::park` propagates to the caller and leaves the
//! table usable (DESIGN invariant 6); a panic while holding a `wchan::Mutex` releases it.
//!
//! The table's bucket locks are std mutexes that a panic under them poisons; wchan ignores
//! the poison because its callbacks run before or after a queue changes, never in the middle.
//! These tests panic under the lock and then use the very same bucket: the same key and a
//! second key that hashes to the same bucket.
//!
//! SAFETY (every `unsafe` call into `wchan::park` here): the key is an address this file owns
//! (a local, a leaked box or a static of its own) and every park and unpark on it follows the
//! protocol of the primitive or test around it.
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_until, watchdog, HANG};
use wchan::park::{self, ParkOptions, ParkResult, RequeueOp, UnparkToken, DEFAULT_UNPARK_TOKEN};
use wchan::{wakeup, Deadline, Mutex, Sleep, SpinLock};

/// Two distinct keys in the same bucket, derived from a static so they belong to no one else;
/// each test passes its own `slot` so tests running in parallel never share a key.
fn colliding_keys(slot: usize) -> (usize, usize) {
    static ANCHOR: u64 = 0;
    // Never dereferenced; wrapping, so a 32-bit address space cannot overflow it.
    let a = (&ANCHOR as *const u64 as usize).wrapping_add(0x1000_0000 * (slot + 1));
    let b = (1..).map(|i| a.wrapping_add(8 * i)).find(|&b| park::bucket_index(b) == park::bucket_index(a)).unwrap();
    (a, b)
}

/// One thread parks on `key` (announcing itself under a spinlock, which `before_sleep`
/// releases); the caller sees the announcement and unparks it with a token: the key's bucket
/// queues and wakes correctly.
fn park_and_unpark_works(key: usize) {
    let lock = Arc::new(SpinLock::new(false));
    let sleeper = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            let mut g = lock.lock();
            *g = true;
            unsafe { park::park(key, ParkOptions::new(), || true, move || drop(g), |_, _| {}) }
        })
    };
    loop {
        let g = lock.lock();
        if *g {
            assert_eq!(unsafe { park::unpark_n(key, 1, UnparkToken(42)) }, 1);
            break;
        }
        drop(g);
        std::thread::yield_now();
    }
    assert_eq!(sleeper.join().unwrap(), ParkResult::Unparked(UnparkToken(42)));
    assert_eq!(unsafe { park::unpark_all(key, DEFAULT_UNPARK_TOKEN) }, 0, "nothing left queued");
}

/// The same through the OpenBSD face, on a key given as an address.
fn sleep_and_wakeup_works(key: usize) {
    let lock = Arc::new(SpinLock::new(false));
    let sleeper = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            let mut g = lock.lock();
            *g = true;
            Sleep::on(std::ptr::null::<u8>().wrapping_add(key))
                .until(Deadline::after(Duration::from_secs(60)))
                .unlocking(g)
                .wait()
        })
    };
    loop {
        let g = lock.lock();
        if *g {
            assert_eq!(wakeup(std::ptr::null::<u8>().wrapping_add(key), 0), Ok(1));
            break;
        }
        drop(g);
        std::thread::yield_now();
    }
    assert_eq!(sleeper.join().unwrap(), Ok(()));
}

fn bucket_still_works(a: usize, b: usize) {
    park_and_unpark_works(a);
    park_and_unpark_works(b);
    sleep_and_wakeup_works(a);
    sleep_and_wakeup_works(b);
}

fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| e.downcast_ref::<String>().cloned()).unwrap_or_default()
}

#[test]
fn panic_in_validate_propagates_and_the_bucket_still_works() {
    watchdog(HANG, || {
        let (a, b) = colliding_keys(0);
        for _ in 0..3 {
            let r = catch_unwind(|| unsafe {
                park::park(a, ParkOptions::new(), || panic!("validate boom"), || {}, |_, _| {})
            });
            assert_eq!(panic_message(r.unwrap_err()), "validate boom");
            // Nothing was queued: a wake finds nobody (and takes the lock-free path).
            assert_eq!(unsafe { park::unpark_all(a, DEFAULT_UNPARK_TOKEN) }, 0);
            assert_eq!(wakeup(std::ptr::null::<u8>().wrapping_add(a), 0), Err(wchan::Error::NoWaiters));
        }
        bucket_still_works(a, b);
    });
}

#[test]
fn panic_in_on_cancel_after_a_timeout_propagates_and_the_bucket_still_works() {
    watchdog(HANG, || {
        let (a, b) = colliding_keys(1);
        let ran = AtomicBool::new(false);
        let start = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            let opts = ParkOptions::new().deadline(Deadline::after(Duration::from_millis(20)));
            unsafe {
                park::park(
                    a,
                    opts,
                    || true,
                    || {},
                    |key, was_last| {
                        ran.store(true, Ordering::Relaxed);
                        assert_eq!((key, was_last), (a, true));
                        panic!("on_cancel boom")
                    },
                )
            }
        }));
        assert_eq!(panic_message(r.unwrap_err()), "on_cancel boom");
        assert!(ran.load(Ordering::Relaxed));
        assert!(start.elapsed() >= Duration::from_millis(20));
        // The waiter was taken off the queue before the callback ran.
        assert_eq!(unsafe { park::unpark_all(a, DEFAULT_UNPARK_TOKEN) }, 0);
        bucket_still_works(a, b);
    });
}

#[test]
fn panic_in_on_cancel_with_another_sleeper_on_the_key_leaves_it_queued() {
    watchdog(HANG, || {
        let (a, b) = colliding_keys(2);
        // A long sleeper on `a`, then a short one whose on_cancel panics with was_last false.
        let lock = Arc::new(SpinLock::new(false));
        let long = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let mut g = lock.lock();
                *g = true;
                unsafe { park::park(a, ParkOptions::new(), || true, move || drop(g), |_, _| {}) }
            })
        };
        wait_until(HANG, "the long sleeper to queue", || *lock.lock());
        let r = catch_unwind(|| {
            let opts = ParkOptions::new().deadline(Deadline::after(Duration::from_millis(10)));
            unsafe { park::park(a, opts, || true, || {}, |_, was_last| panic!("was_last = {was_last}")) }
        });
        assert_eq!(panic_message(r.unwrap_err()), "was_last = false");
        assert_eq!(unsafe { park::unpark_all(a, UnparkToken(7)) }, 1, "only the long sleeper remains");
        assert_eq!(long.join().unwrap(), ParkResult::Unparked(UnparkToken(7)));
        bucket_still_works(a, b);
    });
}

#[test]
fn panic_in_before_sleep_dequeues_the_waiter_and_the_bucket_still_works() {
    watchdog(HANG, || {
        let (a, b) = colliding_keys(3);
        let r = catch_unwind(|| unsafe {
            park::park(a, ParkOptions::new(), || true, || panic!("before_sleep boom"), |_, _| {})
        });
        assert_eq!(panic_message(r.unwrap_err()), "before_sleep boom");
        assert_eq!(unsafe { park::unpark_all(a, DEFAULT_UNPARK_TOKEN) }, 0, "the node left the queue on unwind");
        bucket_still_works(a, b);
    });
}

/// The documented pattern "clear the parked bit in `on_cancel` when `was_last`" must survive
/// a panic in `before_sleep`: `on_cancel` runs once, under the lock, with the right
/// `was_last`, before the panic goes on (issue 9, item 4: it used to be skipped).
#[test]
fn panic_in_before_sleep_runs_on_cancel_once_with_was_last() {
    watchdog(HANG, || {
        let (a, b) = colliding_keys(5);
        let parked_bit = AtomicBool::new(false);
        let calls = std::sync::Mutex::new(Vec::new());
        let panicking_park = || {
            catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
                park::park(
                    a,
                    ParkOptions::new(),
                    || {
                        parked_bit.store(true, Ordering::Relaxed);
                        true
                    },
                    || panic!("before_sleep boom"),
                    |key, was_last| {
                        calls.lock().unwrap().push((key, was_last));
                        if was_last {
                            parked_bit.store(false, Ordering::Relaxed);
                        }
                    },
                )
            }))
        };
        // Alone on the key: was_last is true and the bit is cleared.
        assert_eq!(panic_message(panicking_park().unwrap_err()), "before_sleep boom");
        assert_eq!(*calls.lock().unwrap(), [(a, true)]);
        assert!(!parked_bit.load(Ordering::Relaxed), "on_cancel cleared the parked bit");

        // Another thread stays queued on the key: was_last is false and the bit stays set.
        let lock = Arc::new(SpinLock::new(false));
        let other = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let mut g = lock.lock();
                *g = true;
                unsafe { park::park(a, ParkOptions::new(), || true, move || drop(g), |_, _| {}) }
            })
        };
        wait_until(HANG, "the other sleeper to queue", || *lock.lock());
        calls.lock().unwrap().clear();
        assert_eq!(panic_message(panicking_park().unwrap_err()), "before_sleep boom");
        assert_eq!(*calls.lock().unwrap(), [(a, false)]);
        assert!(parked_bit.load(Ordering::Relaxed), "a waiter remains: the bit stays set");
        assert_eq!(unsafe { park::unpark_all(a, UnparkToken(3)) }, 1, "only the other sleeper was queued");
        assert_eq!(other.join().unwrap(), ParkResult::Unparked(UnparkToken(3)));
        bucket_still_works(a, b);
    });
}

/// If a waker dequeues the thread while its `before_sleep` runs and then `before_sleep`
/// panics, the waker's count stands: `on_cancel` does not run (nothing was cancelled), and
/// the panic still propagates once the waker is done with the node.
#[test]
fn panic_in_before_sleep_after_a_waker_dequeued_it_runs_no_on_cancel() {
    watchdog(HANG, || {
        let (a, b) = colliding_keys(6);
        let queued = Arc::new(AtomicBool::new(false));
        let woken = Arc::new(AtomicBool::new(false));
        let waker = {
            let (queued, woken) = (queued.clone(), woken.clone());
            std::thread::spawn(move || {
                wait_until(HANG, "the sleeper is in before_sleep", || queued.load(Ordering::SeqCst));
                let n = unsafe { park::unpark_n(a, 1, UnparkToken(4)) };
                woken.store(true, Ordering::SeqCst);
                n
            })
        };
        let cancelled = AtomicBool::new(false);
        let r = catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            park::park(
                a,
                ParkOptions::new(),
                || true,
                || {
                    queued.store(true, Ordering::SeqCst);
                    wait_until(HANG, "the waker dequeued us", || woken.load(Ordering::SeqCst));
                    panic!("late boom")
                },
                |_, _| cancelled.store(true, Ordering::SeqCst),
            )
        }));
        assert_eq!(panic_message(r.unwrap_err()), "late boom");
        assert_eq!(waker.join().unwrap(), 1, "the waker took the sleeper off the queue");
        assert!(!cancelled.load(Ordering::SeqCst), "on_cancel ran for a waiter a waker had dequeued");
        bucket_still_works(a, b);
    });
}

#[test]
fn panic_in_an_unpark_callback_changes_nothing_and_the_bucket_still_works() {
    watchdog(HANG, || {
        let (a, b) = colliding_keys(4);
        let lock = Arc::new(SpinLock::new(false));
        let sleeper = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let mut g = lock.lock();
                *g = true;
                unsafe { park::park(a, ParkOptions::new(), || true, move || drop(g), |_, _| {}) }
            })
        };
        wait_until(HANG, "the sleeper to queue", || *lock.lock());
        let r = catch_unwind(|| unsafe { park::unpark_one(a, |found| panic!("saw {}", found.unparked)) });
        assert_eq!(panic_message(r.unwrap_err()), "saw 1");
        let r = catch_unwind(|| unsafe {
            park::unpark_requeue(a, b, || panic!("requeue validate boom"), |_, _| DEFAULT_UNPARK_TOKEN)
        });
        assert_eq!(panic_message(r.unwrap_err()), "requeue validate boom");
        let r = catch_unwind(|| unsafe {
            park::unpark_requeue(a, b, || RequeueOp::RequeueAll, |_, _| panic!("requeue cb boom"))
        });
        assert_eq!(panic_message(r.unwrap_err()), "requeue cb boom");
        // The sleeper is still queued on `a`, untouched: exactly one unpark finds it.
        assert_eq!(unsafe { park::unpark_all(b, DEFAULT_UNPARK_TOKEN) }, 0);
        assert_eq!(unsafe { park::unpark_all(a, UnparkToken(9)) }, 1);
        assert_eq!(sleeper.join().unwrap(), ParkResult::Unparked(UnparkToken(9)));
        bucket_still_works(a, b);
    });
}

/// No poisoning (see `RawMutex`'s docs): the guard's drop during unwinding unlocks, and a
/// thread already waiting for the lock gets it.
#[test]
fn panic_while_holding_a_mutex_guard_releases_the_lock() {
    watchdog(HANG, || {
        let m = Arc::new(Mutex::new(0u32));
        let holding = Arc::new(AtomicBool::new(false));
        let waiter_started = Arc::new(AtomicBool::new(false));
        let panicker = {
            let (m, holding, started) = (m.clone(), holding.clone(), waiter_started.clone());
            std::thread::spawn(move || {
                let mut g = m.lock();
                *g = 1;
                holding.store(true, Ordering::SeqCst);
                wait_until(HANG, "the waiter to start locking", || started.load(Ordering::SeqCst));
                // Not a handshake: only makes it likely that the waiter has spun out and parked,
                // so the unlock during unwinding takes the wake path. Passes either way.
                std::thread::sleep(Duration::from_millis(20));
                panic!("holder boom");
            })
        };
        wait_until(HANG, "the panicker to hold the lock", || holding.load(Ordering::SeqCst));
        let waiter = {
            let (m, started) = (m.clone(), waiter_started.clone());
            std::thread::spawn(move || {
                started.store(true, Ordering::SeqCst);
                let mut g = m.lock();
                *g += 1;
                *g
            })
        };
        assert_eq!(panic_message(panicker.join().unwrap_err()), "holder boom");
        assert_eq!(waiter.join().unwrap(), 2, "the waiter got the lock and saw the panicker's write");
        assert!(!m.is_locked());
        let g = m.try_lock_for(Duration::from_millis(100)).expect("the lock is free");
        assert_eq!(*g, 2);
    });
}

#[test]
fn panic_while_holding_a_spinlock_guard_releases_it() {
    let lock = SpinLock::new(());
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _g = lock.lock();
        panic!("spin boom");
    }));
    assert!(r.is_err());
    assert!(lock.try_lock().is_some());
}
