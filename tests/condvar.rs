//! `Condvar`: producer/consumer, exact notify counts, requeue, timeouts on both clocks, and
//! the two-mutex misuse.
mod common;

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{wait_until, watchdog, HANG};
use wchan::{Condvar, Deadline, Mutex, MutexGuard};

/// How many waiters have said "I am about to wait" (under the lock) and how many returned.
#[derive(Default)]
struct Counts {
    waiting: usize,
    woken: usize,
}

type Shared = Arc<(Mutex<Counts>, Condvar)>;

/// Spawns `n` threads that each count themselves as waiting under the lock, wait once, then
/// count themselves as woken. Returns once all `n` are queued on the condvar: a thread counted
/// under the lock is queued before it releases the lock, so a locker that sees the count
/// knows the waiter is queued.
fn spawn_waiters(shared: &Shared, n: usize) -> Vec<std::thread::JoinHandle<()>> {
    let handles = (0..n)
        .map(|_| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (m, cv) = &*shared;
                let mut g = m.lock();
                g.waiting += 1;
                cv.wait(&mut g);
                g.woken += 1;
            })
        })
        .collect();
    wait_until(HANG, "every waiter to be queued", || shared.0.lock().waiting == n);
    handles
}

fn woken(shared: &Shared) -> usize {
    shared.0.lock().woken
}

#[test]
fn producer_consumer_100k_items_none_lost_none_duplicated() {
    const ITEMS: u64 = 100_000;
    const PRODUCERS: u64 = 2;
    const CONSUMERS: usize = 2;
    const CAPACITY: usize = 64;
    struct Queue {
        items: VecDeque<u64>,
        producers_left: u64,
    }
    watchdog(HANG * 3, || {
        // A bounded queue with two condvars, so both sides block and both are notified.
        let shared = Arc::new((
            Mutex::new(Queue { items: VecDeque::new(), producers_left: PRODUCERS }),
            Condvar::new(), // not empty (or finished)
            Condvar::new(), // not full
        ));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let (m, not_empty, not_full) = &*shared;
                    for item in (p..ITEMS).step_by(PRODUCERS as usize) {
                        let mut q = m.lock();
                        not_full.wait_while(&mut q, |q| q.items.len() >= CAPACITY);
                        q.items.push_back(item);
                        drop(q);
                        not_empty.notify_one();
                    }
                    m.lock().producers_left -= 1;
                    not_empty.notify_all();
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let (m, not_empty, not_full) = &*shared;
                    let mut got = Vec::new();
                    loop {
                        let mut q = m.lock();
                        not_empty.wait_while(&mut q, |q| q.items.is_empty() && q.producers_left > 0);
                        let Some(item) = q.items.pop_front() else { break };
                        drop(q);
                        not_full.notify_one();
                        got.push(item);
                    }
                    got
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<u64> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        assert_eq!(all.len() as u64, ITEMS, "count");
        assert_eq!(all.iter().sum::<u64>(), ITEMS * (ITEMS - 1) / 2, "sum");
        all.sort_unstable();
        assert!(all.iter().copied().eq(0..ITEMS), "every item exactly once");
    });
}

#[test]
fn notify_one_wakes_exactly_one_of_several_waiters() {
    watchdog(HANG, || {
        let shared: Shared = Arc::default();
        let handles = spawn_waiters(&shared, 4);
        assert!(shared.1.notify_one());
        wait_until(HANG, "one waiter to return", || woken(&shared) == 1);
        // Exactly three are still queued: a notify_all finds precisely them.
        assert_eq!(shared.1.notify_all(), 3);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(woken(&shared), 4);
    });
}

#[test]
fn notify_one_called_under_the_lock_wakes_one() {
    watchdog(HANG, || {
        let shared: Shared = Arc::default();
        let handles = spawn_waiters(&shared, 2);
        let g = shared.0.lock();
        assert!(shared.1.notify_one());
        drop(g);
        wait_until(HANG, "one waiter to return", || woken(&shared) == 1);
        assert!(shared.1.notify_one());
        assert!(!shared.1.notify_one(), "nobody left");
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn notify_all_with_the_mutex_free_wakes_all_and_counts_them() {
    watchdog(HANG, || {
        let shared: Shared = Arc::default();
        let handles = spawn_waiters(&shared, 5);
        assert_eq!(shared.1.notify_all(), 5);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(woken(&shared), 5);
        assert_eq!(shared.1.notify_all(), 0, "nobody left");
    });
}

#[test]
fn notify_all_under_the_lock_requeues_all_and_each_unlock_passes_it_on() {
    watchdog(HANG, || {
        let shared: Shared = Arc::default();
        let handles = spawn_waiters(&shared, 5);
        let g = shared.0.lock();
        assert_eq!(shared.1.notify_all(), 5);
        // All five have left the condvar: woken (as many as there are CPUs) or moved to the
        // mutex's queue.
        assert!(!shared.1.notify_one(), "the condvar has no waiter left");
        drop(g);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(woken(&shared), 5);
    });
}

/// `notify_all` to more waiters than any herd (it wakes at most 64 directly, as many as there
/// are CPUs): the herd is woken, the rest are moved onto the mutex, and every one returns
/// exactly once, whether the mutex is held or free at the notify.
fn broadcast_reaches_every_waiter(under_lock: bool) {
    const WAITERS: usize = 70;
    watchdog(HANG * 2, move || {
        let shared: Shared = Arc::default();
        let handles = spawn_waiters(&shared, WAITERS);
        let guard = under_lock.then(|| shared.0.lock());
        assert_eq!(shared.1.notify_all(), WAITERS);
        assert!(!shared.1.notify_one(), "the condvar has no waiter left");
        drop(guard);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(woken(&shared), WAITERS);
        assert!(shared.0.try_lock().is_some(), "the mutex is free and usable afterwards");
    });
}

#[test]
fn broadcast_to_70_under_the_lock_wakes_a_herd_moves_the_rest_and_all_return() {
    broadcast_reaches_every_waiter(true);
}

#[test]
fn broadcast_to_70_with_the_mutex_free_wakes_a_herd_moves_the_rest_and_all_return() {
    broadcast_reaches_every_waiter(false);
}

#[test]
fn notify_with_no_waiters_returns_false_and_zero() {
    let cv = Condvar::new();
    assert!(!cv.notify_one());
    assert_eq!(cv.notify_all(), 0);
    assert!(std::mem::size_of::<Condvar>() <= 8);
    static STATIC_CV: Condvar = Condvar::new();
    assert!(!STATIC_CV.notify_one());
}

/// Runs one timed wait that nobody notifies and checks its duration and result.
fn times_out_within_bounds(wait: impl FnOnce(&Condvar, &mut MutexGuard<'_, u32>) -> bool) {
    let (m, cv) = (Mutex::new(0u32), Condvar::new());
    let mut g = m.lock();
    let start = Instant::now();
    assert!(wait(&cv, &mut g), "reported timed_out()");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(45), "returned early: {took:?}"); // 50 ms, two clocks
    assert!(took < Duration::from_secs(2), "returned late: {took:?}");
    assert!(m.is_locked(), "the guard holds the lock again");
    *g += 1;
    drop(g);
    assert_eq!(*m.try_lock().expect("unlocked by the guard"), 1);
    assert!(!cv.notify_one(), "the timed-out waiter left the queue");
}

#[test]
fn wait_for_times_out_within_bounds() {
    watchdog(HANG, || times_out_within_bounds(|cv, g| cv.wait_for(g, Duration::from_millis(50)).timed_out()));
}

#[test]
fn wait_until_an_instant_times_out_within_bounds() {
    watchdog(HANG, || {
        times_out_within_bounds(|cv, g| cv.wait_until(g, Instant::now() + Duration::from_millis(50)).timed_out())
    });
}

#[test]
fn wait_until_a_system_time_times_out_within_bounds() {
    watchdog(HANG, || {
        times_out_within_bounds(|cv, g| cv.wait_until(g, SystemTime::now() + Duration::from_millis(50)).timed_out())
    });
}

#[test]
fn wait_while_for_times_out_when_the_condition_stays_true() {
    watchdog(HANG, || {
        times_out_within_bounds(|cv, g| cv.wait_while_for(g, |n| *n == 0, Duration::from_millis(50)).timed_out())
    });
}

#[test]
fn wait_until_a_passed_deadline_returns_at_once_holding_the_lock() {
    watchdog(HANG, || {
        let (m, cv) = (Mutex::new(()), Condvar::new());
        let mut g = m.lock();
        assert!(cv.wait_until(&mut g, Instant::now()).timed_out());
        assert!(cv.wait_until(&mut g, SystemTime::UNIX_EPOCH).timed_out());
        let past = Deadline::new(wchan::Clock::Monotonic, wchan::Timespec::new(0, 0)).unwrap();
        assert!(cv.wait_until(&mut g, past).timed_out());
        assert!(m.is_locked());
        drop(g);
        assert!(m.try_lock().is_some(), "the lock was never lost or doubly held");
    });
}

#[test]
fn wait_for_returns_not_timed_out_when_notified() {
    watchdog(HANG, || {
        let shared = Arc::new((Mutex::new(false), Condvar::new()));
        let t = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (m, cv) = &*shared;
                let mut waiting = m.lock();
                *waiting = true;
                cv.wait_for(&mut waiting, Duration::from_secs(60))
            })
        };
        wait_until(HANG, "the waiter to be queued", || *shared.0.lock());
        assert!(shared.1.notify_one());
        assert!(!t.join().unwrap().timed_out());
    });
}

#[test]
fn wait_while_until_returns_once_the_condition_is_false() {
    watchdog(HANG, || {
        let shared = Arc::new((Mutex::new(0u32), Condvar::new()));
        let t = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (m, cv) = &*shared;
                let mut n = m.lock();
                let r = cv.wait_while_until(&mut n, |n| *n < 3, SystemTime::now() + Duration::from_secs(60));
                (r.timed_out(), *n)
            })
        };
        for _ in 0..3 {
            *shared.0.lock() += 1;
            shared.1.notify_all();
        }
        assert_eq!(t.join().unwrap(), (false, 3));
    });
}

#[test]
fn requeued_waiter_with_a_deadline_reports_notified() {
    watchdog(HANG, || {
        let shared = Arc::new((Mutex::new(false), Condvar::new()));
        let t = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (m, cv) = &*shared;
                let mut waiting = m.lock();
                *waiting = true;
                cv.wait_for(&mut waiting, Duration::from_millis(500))
            })
        };
        let (m, cv) = &*shared;
        let g = loop {
            let g = m.lock();
            if *g {
                break g;
            }
        };
        // notify_one moves the waiter onto the held mutex (notify_all would wake it).
        assert!(cv.notify_one(), "requeued onto the held mutex");
        // Hold the mutex past the waiter's deadline: it times out on the mutex's queue.
        let start = Instant::now();
        wait_until(HANG, "the waiter's deadline to pass", || start.elapsed() > Duration::from_millis(700));
        drop(g);
        assert!(!t.join().unwrap().timed_out(), "a requeued waiter was notified");
        assert!(m.try_lock().is_some(), "the mutex is usable afterwards");
    });
}

/// A waiter with a deadline a few microseconds away races a notifier that notifies as soon as
/// it can take the lock: the notify lands while the waiter spins before blocking, as its
/// deadline passes, or after it gave up. Whatever the order, the two must agree: the waiter
/// reports "notified" in exactly the rounds where `notify_one` said it woke someone (and both
/// outcomes occur, or the test proves nothing).
#[test]
fn a_notify_racing_a_deadline_of_microseconds_is_counted_exactly_once() {
    const ROUNDS: u32 = if cfg!(miri) { 50 } else { 10_000 };
    #[derive(Default)]
    struct Round {
        waiting: bool,
        tried: bool,
        woke: bool,
        done: bool,
    }
    watchdog(HANG * 3, || {
        let shared = Arc::new((Mutex::new(Round::default()), Condvar::new()));
        let notifier = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (m, cv) = &*shared;
                let mut delay = 0u32;
                loop {
                    let mut g = m.lock();
                    if g.done {
                        return;
                    }
                    if g.waiting && !g.tried {
                        // A delay of 0 to 63 x 64 pause hints (up to some 100 µs here: a timeout
                        // fires up to the timer slack late, 50 µs on Linux), so the notify
                        // falls on both sides of the deadline. Under Miri the pauses are
                        // slow and the deadlines long: a 64th of the pauses.
                        delay = (delay + 7) % 64;
                        for _ in 0..delay * if cfg!(miri) { 1 } else { 64 } {
                            std::hint::spin_loop();
                        }
                        g.tried = true;
                        g.woke = cv.notify_one();
                    } else {
                        drop(g);
                        std::thread::yield_now();
                    }
                }
            })
        };
        let (m, cv) = &*shared;
        // 0 to 20 units: around the spin's length (about 3 µs on the development machine).
        // Miri runs some thousand times slower: milliseconds there, and more when the machine
        // is loaded (one CI run under Miri saw all 50 rounds time out at 1 ms units), so a
        // batch in which no notify landed in time is run again with units four times longer.
        let mut unit = if cfg!(miri) { Duration::from_millis(1) } else { Duration::from_micros(1) };
        let mut batches = Vec::new();
        for _ in 0..3 {
            let (mut notified, mut timed_out) = (0u32, 0u32);
            for round in 0..ROUNDS {
                let mut g = m.lock();
                *g = Round { waiting: true, ..Round::default() };
                let r = cv.wait_for(&mut g, unit * (round % 21));
                assert_eq!(!r.timed_out(), g.woke, "round {round}: the waiter and notify_one disagree");
                if g.woke {
                    notified += 1;
                } else {
                    timed_out += 1;
                }
                g.waiting = false;
            }
            assert_eq!(notified + timed_out, ROUNDS);
            eprintln!("units of {unit:?}: {notified} rounds notified, {timed_out} timed out");
            batches.push((unit, notified, timed_out));
            if notified > 0 && timed_out > ROUNDS / 21 {
                break;
            }
            unit *= 4;
        }
        m.lock().done = true;
        notifier.join().unwrap();
        let &(_, notified, timed_out) = batches.last().unwrap();
        assert!(
            notified > 0 && timed_out > ROUNDS / 21,
            "no race between the two (units, notified, timed out): {batches:?}"
        );
    });
}

#[test]
fn using_one_condvar_with_two_mutexes_panics_and_leaves_it_working() {
    watchdog(HANG, || {
        let shared: Shared = Arc::default();
        let handles = spawn_waiters(&shared, 1); // waits with shared.0
        let other = Mutex::new(Counts::default());
        let panic = catch_unwind(AssertUnwindSafe(|| {
            let mut g = other.lock();
            shared.1.wait_for(&mut g, Duration::from_secs(60));
        }))
        .expect_err("waiting with a second mutex must panic");
        let msg =
            panic.downcast_ref::<&str>().copied().map(String::from).or_else(|| panic.downcast_ref::<String>().cloned());
        assert!(msg.as_deref().unwrap_or("").contains("two different mutexes"), "message: {msg:?}");
        assert!(other.try_lock().is_some(), "the panicking wait's mutex was unlocked by its guard");
        // The first mutex's waiter is still queued and the condvar still works for it.
        assert!(shared.1.notify_one());
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(woken(&shared), 1);
        // With no waiter left, the condvar can be used with the other mutex.
        let mut g = other.lock();
        assert!(shared.1.wait_for(&mut g, Duration::from_millis(1)).timed_out());
    });
}

#[test]
#[should_panic(expected = "two different mutexes")]
fn condvar_with_a_second_mutex_while_waiters_remain_panics() {
    watchdog(HANG, || {
        let shared: Shared = Arc::default();
        let _waiter = spawn_waiters(&shared, 1);
        let other = Mutex::new(Counts::default());
        let mut g = other.lock();
        shared.1.wait(&mut g);
    });
}

#[test]
fn notify_all_outside_the_lock_while_another_thread_unlocks_loses_no_waiter() {
    // Each round: a waiter waits for the generation to reach the round; a holder takes the
    // mutex and releases it after a varying short spin while the notifier, outside the lock,
    // calls notify_all. However the unlock and the requeue interleave, the waiter must wake
    // with nobody touching the mutex afterwards (a waiter moved onto a free mutex whose
    // unlock did not see it would sleep until some later lock: the watchdog catches that).
    const ROUNDS: usize = 20_000;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    watchdog(HANG * 3, || {
        let shared = Arc::new((Mutex::new(0usize), Condvar::new()));
        let (queued, woken, hold, holding) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let waiter = {
            let (shared, queued, woken) = (shared.clone(), queued.clone(), woken.clone());
            std::thread::spawn(move || {
                let (m, cv) = &*shared;
                for round in 1..=ROUNDS {
                    let mut gen = m.lock();
                    queued.store(round, SeqCst); // under the lock: queued before it is released
                    cv.wait_while(&mut gen, |gen| *gen < round);
                    drop(gen);
                    woken.store(round, SeqCst);
                }
            })
        };
        let holder = {
            let (shared, hold, holding) = (shared.clone(), hold.clone(), holding.clone());
            std::thread::spawn(move || {
                for round in 1..=ROUNDS {
                    wait_until(HANG, "the holder's turn", || hold.load(SeqCst) == round);
                    let g = shared.0.lock();
                    holding.store(round, SeqCst);
                    for _ in 0..(round % 64) {
                        std::hint::spin_loop();
                    }
                    drop(g);
                }
            })
        };
        let (m, cv) = &*shared;
        for round in 1..=ROUNDS {
            wait_until(HANG, "the waiter to queue", || queued.load(SeqCst) == round && !m.is_locked());
            *m.lock() = round;
            hold.store(round, SeqCst);
            wait_until(HANG, "the holder to take the lock", || holding.load(SeqCst) == round);
            cv.notify_all();
            wait_until(Duration::from_secs(5), "the notified waiter to wake", || woken.load(SeqCst) == round);
        }
        waiter.join().unwrap();
        holder.join().unwrap();
    });
}
