//! Safe code cannot reach a wchan primitive's queue or hand its waiters a token (DESIGN
//! invariant 7; issue 9, item 1). Everything here is safe code, as a hostile user would write
//! it: it forges every key it can derive from a primitive's address (the address itself, the
//! top bit set or flipped as the old internal keys were, an aarch64 top-byte tag, neighbours)
//! and throws `wakeup`s and `Sleep`s at them while threads wait inside the primitive.
//!
//! The checks are exact (every forged wakeup finds nobody: `Err(NoWaiters)`), and the
//! protected data is written by both sides, so under Miri (`.ci/sanitizers.sh`) a broken
//! exclusion is reported as a data race. The "has not returned" checks that remain natively
//! are bounded waits: a forged wake would end them at once.
#![forbid(unsafe_code)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_until, watchdog, HANG};
use wchan::{wakeup, Condvar, Deadline, Error, Mutex, Sleep};

/// Every key a hostile caller might derive from `addr`.
fn forgeries(addr: usize) -> Vec<usize> {
    let top = 1usize << (usize::BITS - 1);
    let tag = if usize::BITS == 64 { 0xffusize << (usize::BITS - 8) } else { 0 };
    let mut keys = vec![addr, addr | top, addr ^ top, addr & !top, addr | tag, addr & !tag, addr.wrapping_add(1)];
    keys.extend((1..=8).flat_map(|i| [addr.wrapping_add(8 * i), addr.wrapping_sub(8 * i)]));
    keys.retain(|&k| k != 0);
    keys
}

/// Forges wakeups on every key; each must find nobody.
fn forge_wakeups(addr: usize) {
    for key in forgeries(addr) {
        assert_eq!(wakeup(key as *const u8, 0), Err(Error::NoWaiters), "a forged wakeup on {key:#x} found a sleeper");
        assert_eq!(wakeup(key as *const u8, 1), Err(Error::NoWaiters), "a forged wakeup on {key:#x} found a sleeper");
    }
}

/// Time for a locker to spin out and park (its spin is ten short steps); a bound, not a sleep
/// "to let things settle": the checks after it hold whether or not it has parked yet.
const PARK_TIME: Duration = Duration::from_millis(50);

fn pause(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::thread::yield_now();
    }
}

#[test]
fn forged_wakeups_never_let_a_parked_locker_into_a_held_mutex() {
    watchdog(HANG, || {
        static MUTEX: Mutex<u64> = Mutex::new(0);
        let mut guard = MUTEX.lock();
        let entered = Arc::new(AtomicBool::new(false));
        let locker = {
            let entered = entered.clone();
            std::thread::spawn(move || {
                let mut g = MUTEX.lock();
                entered.store(true, Ordering::SeqCst);
                *g += 1; // races with main's write below if exclusion is broken (Miri)
            })
        };
        pause(PARK_TIME);
        forge_wakeups(&MUTEX as *const Mutex<u64> as usize);
        // A channel sleep on the mutex's own address shares no queue with its lockers.
        let d = Deadline::after(Duration::from_millis(1));
        assert_eq!(Sleep::on(&MUTEX).until(d).wait(), Err(Error::TimedOut));
        *guard += 1;
        assert!(!entered.load(Ordering::SeqCst), "the locker entered while the guard was held");
        drop(guard);
        locker.join().unwrap();
        assert_eq!(*MUTEX.lock(), 2);
    });
}

#[test]
fn a_sleep_on_a_mutex_address_never_takes_the_unlocks_wakeup() {
    watchdog(HANG, || {
        let mutex = Arc::new(Mutex::new(0u32));
        let guard = mutex.lock();
        let locker = {
            let mutex = mutex.clone();
            std::thread::spawn(move || *mutex.lock() += 1)
        };
        let chan_sleeper = {
            let mutex = mutex.clone();
            std::thread::spawn(move || {
                let d = Deadline::after(Duration::from_millis(200));
                Sleep::on(&*mutex).until(d).wait()
            })
        };
        pause(PARK_TIME);
        drop(guard); // the unlock must wake the locker, not the channel sleeper
        locker.join().unwrap();
        assert_eq!(*mutex.lock(), 1);
        assert_eq!(chan_sleeper.join().unwrap(), Err(Error::TimedOut));
    });
}

#[test]
fn forged_wakeups_never_take_a_waiter_off_a_condvar() {
    watchdog(HANG, || {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let waiting = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (pair, waiting) = (pair.clone(), waiting.clone());
            std::thread::spawn(move || {
                let (m, cv) = &*pair;
                let mut ready = m.lock();
                waiting.store(1, Ordering::SeqCst);
                cv.wait_while(&mut ready, |ready| !*ready);
            })
        };
        wait_until(HANG, "the waiter is queued", || {
            // The waiter stored 1 holding the mutex and releases it only once queued.
            waiting.load(Ordering::SeqCst) == 1 && pair.0.try_lock().is_some()
        });
        let (m, cv) = &*pair;
        forge_wakeups(cv as *const Condvar as usize);
        forge_wakeups(m as *const Mutex<bool> as usize);
        // The waiter is still queued: the condvar still knows it, and a real notify finds it.
        assert_eq!(format!("{cv:?}"), "Condvar { has_waiters: true }");
        *m.lock() = true;
        assert!(cv.notify_one(), "the real notify found no waiter");
        waiter.join().unwrap();
        assert_eq!(format!("{cv:?}"), "Condvar { has_waiters: false }");
    });
}

/// The second demonstration of issue 9: after forged wakeups, the condvar's mutex is freed and
/// another mutex is used. The condvar must neither follow the freed mutex's address nor
/// mistake the old state for misuse (Miri checks the first).
#[test]
fn a_condvar_outlives_its_first_mutex_despite_forged_wakeups() {
    watchdog(HANG, || {
        let cv = Arc::new(Condvar::new());
        let first = Arc::new(Mutex::new(0u32));
        {
            let waiting = Arc::new(AtomicBool::new(false));
            let timed = {
                let (cv, first, waiting) = (cv.clone(), first.clone(), waiting.clone());
                std::thread::spawn(move || {
                    let mut g = first.lock();
                    waiting.store(true, Ordering::SeqCst);
                    cv.wait_for(&mut g, Duration::from_millis(300)).timed_out()
                })
            };
            // Queued: it set the flag holding the mutex and releases it only once queued.
            wait_until(HANG, "the waiter is queued", || waiting.load(Ordering::SeqCst) && first.try_lock().is_some());
            forge_wakeups(&*cv as *const Condvar as usize);
            assert!(timed.join().unwrap(), "the waiter timed out on its own: nothing forged reached it");
        }
        drop(first); // freed: only the cv's state could still name it
        assert_eq!(cv.notify_all(), 0);
        assert!(!cv.notify_one());
        let second = Mutex::new(0u32);
        let mut g = second.lock();
        assert!(cv.wait_for(&mut g, Duration::from_millis(1)).timed_out(), "a correct wait with a new mutex");
    });
}

/// The stack range forged around the sleeper's local, in bytes each way, and its sleep: Miri
/// interprets every wakeup, so it forges less and sleeps longer.
const RANGE: usize = if cfg!(miri) { 48 } else { 4096 };
const SLEEP: Duration = if cfg!(miri) { Duration::from_secs(8) } else { Duration::from_millis(500) };

#[test]
fn forged_wakeups_never_end_a_thread_sleep() {
    watchdog(HANG, || {
        let near = Arc::new(AtomicUsize::new(0));
        let sleeper = {
            let near = near.clone();
            std::thread::spawn(move || {
                let local = 0u8; // on the stack near wchan::thread::sleep's private key
                near.store(&local as *const u8 as usize, Ordering::SeqCst);
                let start = Instant::now();
                let left = wchan::thread::sleep(SLEEP);
                (left, start.elapsed())
            })
        };
        wait_until(HANG, "the sleeper started", || near.load(Ordering::SeqCst) != 0);
        let near = near.load(Ordering::SeqCst);
        // Every byte address of the sleeper's stack around that local, plain and with the top
        // bit set (the old internal key range).
        let top = 1usize << (usize::BITS - 1);
        for off in 0..RANGE {
            for addr in [near.wrapping_sub(off), near.wrapping_add(off)] {
                for key in [addr, addr | top] {
                    assert_eq!(wakeup(key as *const u8, 0), Err(Error::NoWaiters), "found a sleeper at {key:#x}");
                }
            }
        }
        // Still asleep after all of that: otherwise the forging proved nothing.
        assert!(!sleeper.is_finished(), "the sleep ended before the forging did (or was ended by it)");
        let (left, slept) = sleeper.join().unwrap();
        assert_eq!(left, Duration::ZERO);
        assert!(slept >= SLEEP, "slept only {slept:?}");
    });
}
