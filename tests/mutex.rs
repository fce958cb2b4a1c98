//! `Mutex` (lock_api over `RawMutex`): exclusion, try/timed locking, guard mapping, fairness
//! and the fair hand-off.
mod common;
#[cfg(unix)]
#[path = "common/cpu_time.rs"]
mod cpu_time;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{wait_until, watchdog, HANG};
#[cfg(unix)]
use cpu_time::thread_cpu_time;
use wchan::{Condvar, Deadline, Mutex, MutexGuard};

/// N threads each add 1 to a plain `u64` behind the mutex M times.
fn exclusion(threads: u64, per_thread: u64) {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    // A read-modify-write in two steps: a lost update shows in the total.
                    let mut n = counter.lock();
                    let v = *n;
                    *n = v + 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*counter.lock(), threads * per_thread);
}

#[test]
fn mutual_exclusion_2_threads() {
    watchdog(HANG, || exclusion(2, 100_000));
}

#[test]
fn mutual_exclusion_4_threads() {
    watchdog(HANG, || exclusion(4, 50_000));
}

#[test]
fn mutual_exclusion_8_threads() {
    watchdog(HANG, || exclusion(8, 25_000));
}

/// A thread that holds `m` until told to let go; returns once it holds the lock.
fn hold_in_other_thread(m: Arc<Mutex<u32>>) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let (held, release) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let t = {
        let (held, release) = (held.clone(), release.clone());
        std::thread::spawn(move || {
            let _g = m.lock();
            held.store(true, Ordering::SeqCst);
            wait_until(HANG, "the test to release the holder", || release.load(Ordering::SeqCst));
        })
    };
    wait_until(HANG, "the holder to take the lock", || held.load(Ordering::SeqCst));
    (release, t)
}

#[test]
fn try_lock_fails_while_held_and_succeeds_when_free() {
    watchdog(HANG, || {
        let m = Arc::new(Mutex::new(0u32));
        assert!(m.try_lock().is_some());
        let g = m.lock();
        assert!(m.try_lock().is_none(), "try_lock on a lock this thread holds");
        drop(g);
        let (release, t) = hold_in_other_thread(m.clone());
        assert!(m.try_lock().is_none(), "try_lock while another thread holds the lock");
        assert!(m.is_locked());
        release.store(true, Ordering::SeqCst);
        t.join().unwrap();
        assert!(!m.is_locked());
        *m.try_lock().expect("free after the holder left") += 1;
        assert_eq!(*m.lock(), 1);
    });
}

#[test]
fn try_lock_for_times_out_within_bounds_while_held() {
    watchdog(HANG, || {
        let m = Arc::new(Mutex::new(0u32));
        let (release, t) = hold_in_other_thread(m.clone());
        let start = Instant::now();
        assert!(m.try_lock_for(Duration::from_millis(50)).is_none());
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50), "gave up early: {took:?}");
        assert!(took < Duration::from_secs(2), "gave up late: {took:?}");
        release.store(true, Ordering::SeqCst);
        t.join().unwrap();
        assert!(m.try_lock_for(Duration::from_millis(50)).is_some());
    });
}

#[test]
fn try_lock_until_with_a_wall_clock_deadline_times_out_within_bounds() {
    watchdog(HANG, || {
        let m = Arc::new(Mutex::new(0u32));
        let (release, t) = hold_in_other_thread(m.clone());
        let start = Instant::now();
        let deadline: Deadline = (SystemTime::now() + Duration::from_millis(50)).into();
        assert!(m.try_lock_until(deadline).is_none());
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(45), "gave up early: {took:?}"); // two clocks
        assert!(took < Duration::from_secs(2), "gave up late: {took:?}");
        // A deadline already past still succeeds on a free lock (try first).
        release.store(true, Ordering::SeqCst);
        t.join().unwrap();
        assert!(m.try_lock_until(SystemTime::now().into()).is_some());
    });
}

#[test]
fn try_lock_for_succeeds_when_the_holder_releases_in_time() {
    watchdog(HANG, || {
        let m = Arc::new(Mutex::new(0u32));
        let (release, t) = hold_in_other_thread(m.clone());
        let releaser = std::thread::spawn(move || {
            release.store(true, Ordering::SeqCst);
            t.join().unwrap();
        });
        let mut g = m.try_lock_for(Duration::from_secs(10)).expect("the holder releases well within 10 s");
        *g += 1;
        drop(g);
        releaser.join().unwrap();
        assert_eq!(*m.lock(), 1);
    });
}

#[test]
fn guard_mapping_reaches_a_field_and_keeps_the_lock() {
    struct Pair {
        name: String,
        hits: u32,
    }
    let m = Mutex::new(Pair { name: "a".to_string(), hits: 0 });
    {
        let mut hits = MutexGuard::map(m.lock(), |p| &mut p.hits);
        *hits += 2;
        assert!(m.is_locked(), "a mapped guard still holds the lock");
        assert!(m.try_lock().is_none());
    }
    assert!(!m.is_locked(), "dropping the mapped guard unlocks");
    let name = MutexGuard::try_map(m.lock(), |p| if p.hits == 2 { Some(&mut p.name) } else { None });
    let mut name = name.ok().expect("hits is 2");
    name.push('b');
    drop(name);
    let p = m.lock();
    assert_eq!((p.name.as_str(), p.hits), ("ab", 2));
}

#[test]
fn mutex_holds_a_non_copy_value() {
    watchdog(HANG, || {
        let m = Arc::new(Mutex::new(Vec::<String>::new()));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..250 {
                        m.lock().push(format!("{t}-{i}"));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let mut v = Arc::try_unwrap(m).unwrap().into_inner();
        assert_eq!(v.len(), 1000);
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 1000, "no element lost or duplicated");
    });
}

#[test]
fn panic_while_locked_releases_the_lock() {
    let m = Arc::new(Mutex::new(1u32));
    let m2 = m.clone();
    let r = std::thread::spawn(move || {
        let _g = m2.lock();
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    assert_eq!(*m.try_lock().expect("no poisoning: the lock is free"), 1);
}

#[test]
fn fairness_two_threads_in_a_tight_loop_both_progress() {
    watchdog(HANG, || {
        let m = Arc::new(Mutex::new([0u64; 2]));
        let start = Instant::now();
        let run = Duration::from_secs(1);
        let handles: Vec<_> = (0..2)
            .map(|me| {
                let m = m.clone();
                std::thread::spawn(move || {
                    while start.elapsed() < run {
                        m.lock()[me] += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let counts = *m.lock();
        eprintln!("acquisitions per thread: {counts:?}");
        let total = counts[0] + counts[1];
        for (me, n) in counts.iter().enumerate() {
            assert!(*n * 100 >= total, "thread {me} starved: {counts:?}");
        }
    });
}

#[test]
fn unlock_fair_hands_the_lock_to_the_parked_waiter() {
    watchdog(HANG, || {
        // To get a waiter that is certainly parked on the mutex, it waits on a condvar and is
        // moved onto the mutex's queue by `notify_one` while the lock is held (a requeue;
        // `notify_all` would wake it directly, as one of its herd).
        let state = Arc::new((Mutex::new((false, 0u32)), Condvar::new()));
        let checked = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (state, checked) = (state.clone(), checked.clone());
            std::thread::spawn(move || {
                let (m, cv) = &*state;
                let mut g = m.lock();
                g.0 = true; // "I am queued": set under the lock, queued before it is released
                cv.wait(&mut g);
                g.1 += 1; // the waiter's critical section: it keeps the lock until checked
                wait_until(HANG, "the test to check the lock", || checked.load(Ordering::SeqCst));
            })
        };
        let (m, cv) = &*state;
        let mut g = loop {
            let g = m.lock();
            if g.0 {
                break g;
            }
        };
        assert!(cv.notify_one(), "requeued onto the held mutex");
        g.1 = 10;
        MutexGuard::unlock_fair(g);
        // Handed over: the lock never became free, so it cannot be taken now.
        assert!(m.try_lock().is_none(), "unlock_fair released the lock instead of handing it over");
        checked.store(true, Ordering::SeqCst);
        waiter.join().unwrap();
        assert_eq!(m.lock().1, 11);
    });
}

/// Four threads take 64 mutexes at random, each a read-modify-write in two steps: every
/// mutex must end at exactly the number of times the threads took it. Most unlocks here
/// follow the unlock of a different mutex, so they take the compare-exchange form; about one
/// in 64 repeats the last mutex and takes the subtraction (`RawMutex::unlock`).
#[test]
fn mutual_exclusion_4_threads_over_64_mutexes_taken_at_random() {
    watchdog(HANG, || {
        const LOCKS: usize = 64;
        let locks: Arc<Vec<Mutex<u64>>> = Arc::new((0..LOCKS).map(|_| Mutex::new(0)).collect());
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let locks = locks.clone();
                std::thread::spawn(move || {
                    let mut taken = [0u64; LOCKS];
                    let mut x = 0x9E37_79B9_7F4A_7C15 ^ (t + 1); // xorshift64
                    for _ in 0..50_000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let i = (x % LOCKS as u64) as usize;
                        let mut n = locks[i].lock();
                        let v = *n;
                        *n = v + 1;
                        taken[i] += 1;
                    }
                    taken
                })
            })
            .collect();
        let mut expected = [0u64; LOCKS];
        for h in handles {
            for (e, t) in expected.iter_mut().zip(h.join().unwrap()) {
                *e += t;
            }
        }
        for (i, m) in locks.iter().enumerate() {
            assert_eq!(*m.lock(), expected[i], "mutex {i}");
        }
        assert_eq!(expected.iter().sum::<u64>(), 4 * 50_000);
    });
}

/// A waiter parked on the mutex is woken by a plain unlock in both of the unlock's forms: the
/// subtraction, when this thread's last unlock was of the same mutex, and the
/// compare-exchange, when it was of another one. That exchange fails on the waiter bits, and
/// the unlock must then still release the lock and wake the waiter
/// (`wchan_bug = "cas_unlock_drops_waiters"` is the loom-tests version of getting this wrong).
#[test]
fn an_unlock_wakes_the_parked_waiter_whichever_mutex_this_thread_unlocked_last() {
    watchdog(HANG, || {
        let other = Mutex::new(());
        for other_last in [false, true] {
            let state = Arc::new((Mutex::new((false, 0u32)), Condvar::new()));
            let waiter = {
                let state = state.clone();
                std::thread::spawn(move || {
                    let (m, cv) = &*state;
                    let mut g = m.lock();
                    g.0 = true; // "I am queued": set under the lock, queued before it is released
                    cv.wait(&mut g);
                    g.1 += 1;
                })
            };
            let (m, cv) = &*state;
            // Ends with an unlock of `m`: this thread's last unlock.
            wait_until(HANG, "the waiter to wait on the condvar", || m.lock().0);
            let mut g = m.lock();
            // The waiter is still waiting (nobody notified it): moved onto the held mutex.
            assert!(cv.notify_one(), "requeued onto the held mutex");
            g.1 = 10;
            if other_last {
                drop(other.lock());
            }
            drop(g); // the unlock under test: it must wake the waiter
            waiter.join().unwrap();
            assert_eq!(m.lock().1, 11, "other_last = {other_last}");
        }
    });
}

/// A locker that finds the mutex held for long spins for a bounded time (three rounds of
/// pause hints, about 2.6 µs: `SpinWait` in `src/sync/mutex.rs`) and then blocks: it does not
/// burn its CPU for the holder's whole critical section. The holder keeps the lock for
/// `HOLD` after the locker has announced that it is calling `lock`; the locker must have
/// waited most of that, and used a small part of it as CPU time.
#[cfg(unix)]
#[test]
fn a_locker_behind_a_long_holder_blocks_instead_of_spinning() {
    const HOLD: Duration = Duration::from_millis(300);
    watchdog(HANG, || {
        let m = Arc::new(Mutex::new(0u32));
        let (release, holder) = hold_in_other_thread(m.clone());
        let calling = Arc::new(AtomicBool::new(false));
        let locker = {
            let (m, calling) = (m.clone(), calling.clone());
            std::thread::spawn(move || {
                let cpu = thread_cpu_time();
                let start = Instant::now();
                calling.store(true, Ordering::SeqCst);
                *m.lock() += 1;
                (start.elapsed(), thread_cpu_time() - cpu)
            })
        };
        wait_until(HANG, "the locker to call lock", || calling.load(Ordering::SeqCst));
        // The critical section under test, not a pause to let something settle.
        std::thread::sleep(HOLD);
        release.store(true, Ordering::SeqCst);
        holder.join().unwrap();
        let (waited, used) = locker.join().unwrap();
        assert_eq!(*m.lock(), 1);
        assert!(waited >= HOLD - Duration::from_millis(50), "the locker got the lock after {waited:?}");
        assert!(used < Duration::from_millis(50), "waiting {waited:?} for the lock used {used:?} of CPU");
    });
}
