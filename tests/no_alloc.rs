//! No heap allocation on the sleep/wake paths (DESIGN invariant 5), counted.
//!
//! A counting `#[global_allocator]` counts every allocation made by a thread whose
//! thread-local "measuring" flag is on. Each test warms its threads up (one round of the
//! workload, so any one-time setup happens outside the count), turns measuring on, runs the
//! workload and asserts the thread's count is exactly zero. Only the measured threads count,
//! so the test harness, the watchdog and tests running in parallel do not disturb it.
//!
//! One-time setup: none with the futex parker (Linux). The portable parker calls
//! `std::thread::current()` when a thread first parks, which may allocate the thread's handle
//! once (never for threads spawned by std, whose handle exists already).
mod common;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{watchdog, HANG};
use counting_alloc::{allocations_during, sleep_wakeup_cycles, Counting};
use wchan::{wakeup, Condvar, Deadline, Error, Mutex, Sleep};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn counting_allocator_sees_an_allocation() {
    // The instrument works: a Box made while measuring is counted.
    let n = allocations_during(|| drop(std::hint::black_box(Box::new(7u64))));
    assert_eq!(n, 1);
}

const CYCLES: u32 = 100_000;

/// One sleeper, one waker; each cycle the sleeper announces itself under the spinlock and
/// sleeps `.unlocking` the guard; the waker sees the announcement under the lock and wakes it.
/// Half the sleeps carry a deadline (far away, so they are woken, not timed out).
#[test]
fn sleep_wakeup_100k_cycles_allocate_nothing() {
    watchdog(Duration::from_secs(120), || {
        let (sleeper, waker) = sleep_wakeup_cycles(CYCLES);
        assert_eq!(sleeper, 0, "sleeper allocated");
        assert_eq!(waker, 0, "waker allocated");
    });
}

/// Timeouts, aborts and wakes with nobody asleep take paths of their own: none allocates.
#[test]
fn timeout_abort_and_empty_wakeup_allocate_nothing() {
    watchdog(HANG, || {
        let chan = 0u8;
        let flag = AtomicBool::new(true);
        let round = || {
            let soon = Deadline::after(Duration::from_micros(50));
            assert_eq!(Sleep::on(&chan).until(soon).wait(), Err(Error::TimedOut));
            assert_eq!(Sleep::on(&chan).abort_if(&flag).wait(), Err(Error::Interrupted));
            assert_eq!(wakeup(&chan, 0), Err(Error::NoWaiters));
            assert_eq!(Sleep::on(std::ptr::null::<u8>()).wait(), Err(Error::InvalidArgument));
        };
        round();
        assert_eq!(allocations_during(|| (0..1000).for_each(|_| round())), 0);
    });
}

/// Four threads on two cores fight for one mutex with a critical section long enough that
/// lockers run out of spinning and park: the lock, park and unpark paths allocate nothing.
#[test]
fn contended_mutex_allocates_nothing() {
    const THREADS: usize = 4;
    const ROUNDS: u64 = 50_000;
    watchdog(Duration::from_secs(120), || {
        let m = Arc::new(Mutex::new(0u64));
        let start = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (m, start) = (m.clone(), start.clone());
                std::thread::spawn(move || {
                    let round = || {
                        let mut g = m.lock();
                        let v = *g;
                        for _ in 0..50 {
                            std::hint::spin_loop();
                        }
                        *g = v + 1;
                    };
                    round();
                    start.wait();
                    let n = allocations_during(|| {
                        for i in 0..ROUNDS {
                            round();
                            if i % 64 == 0 {
                                // Timed locking takes the deadline path of park.
                                let g = m.try_lock_for(Duration::from_secs(30)).expect("lock within 30 s");
                                drop(g);
                            }
                        }
                    });
                    n
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 0, "a locker allocated");
        }
        assert_eq!(*m.lock(), THREADS as u64 * (ROUNDS + 1));
    });
}

/// Ping-pong over a condvar: each side waits for its turn and notifies the other, with
/// `notify_one`, `notify_all` (the requeue path) and timed waits.
#[test]
fn condvar_wait_notify_allocates_nothing() {
    const ROUNDS: u64 = 20_000;
    watchdog(Duration::from_secs(120), || {
        let pair = Arc::new((Mutex::new(0u64), Condvar::new()));
        let side = |me: u64| {
            let pair = pair.clone();
            std::thread::spawn(move || {
                let (turn, cv) = &*pair;
                // Turn t belongs to side t % 2; the side that owns it advances it.
                let play = |t: u64| {
                    let mut g = turn.lock();
                    while *g != t {
                        if t % 3 == 0 {
                            let _ = cv.wait_for(&mut g, Duration::from_secs(30));
                        } else {
                            cv.wait(&mut g);
                        }
                    }
                    *g = t + 1;
                    if t % 2 == 0 {
                        cv.notify_one();
                    } else {
                        cv.notify_all();
                    }
                };
                play(me); // warm-up: turns 0 and 1
                allocations_during(|| (1..ROUNDS).map(|r| 2 * r + me).for_each(play))
            })
        };
        let (a, b) = (side(0), side(1));
        assert_eq!(a.join().unwrap(), 0, "side 0 allocated");
        assert_eq!(b.join().unwrap(), 0, "side 1 allocated");
        assert_eq!(*pair.0.lock(), 2 * ROUNDS);
    });
}
