//! Stress: 8 sleepers and 2 wakers on 4 ids for about 3 s, with random deadlines (both
//! clocks, some already passed, some none), random abort flags and spinlock hand-offs. At the
//! end, after waking every remaining sleeper: the sum of `wakeup`'s `Ok(k)` equals the number
//! of sleeps that returned `Ok`, and every error had its cause (a `TimedOut` sleep's deadline
//! has passed; an `Interrupted` sleep's flag is set).
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::watchdog;
use wchan::{wakeup, Clock, Deadline, Error, Sleep, SpinLock, Timespec};

const SLEEPERS: usize = 8;
const WAKERS: usize = 2;
const IDS: usize = 4;
const RUN: Duration = Duration::from_secs(3);

/// xorshift64: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Shared {
    ids: [u64; IDS],
    locks: [SpinLock<()>; IDS],
    aborts: Vec<AtomicBool>,
    stop: AtomicBool,
    exited: AtomicUsize,
}

#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    timed_out: usize,
    interrupted: usize,
    passed_at_start: usize,
}

fn random_deadline(rng: &mut Rng) -> Option<Deadline> {
    let us = Duration::from_micros(rng.below(2000));
    match rng.below(6) {
        0 => None,
        1 | 2 => Some(Deadline::after(us)),
        3 => Some(Deadline::from(SystemTime::now() + us)),
        // Passed: a little in the past on either clock.
        4 => Some(Deadline::new(Clock::Monotonic, Clock::Monotonic.now().saturating_sub(us)).unwrap()),
        _ => Some(Deadline::new(Clock::Realtime, Timespec::new(Clock::Realtime.now().sec - 1, 0)).unwrap()),
    }
}

fn sleeper(s: &Shared, me: usize) -> Tally {
    let mut rng = Rng::new(me as u64 + 1);
    let mut t = Tally::default();
    while !s.stop.load(Ordering::SeqCst) {
        let i = rng.below(IDS as u64) as usize;
        // Relaxed: the flag carries no data; wchan orders it against the wakers' wakeups.
        s.aborts[me].store(rng.below(20) == 0, Ordering::Relaxed);
        let deadline = random_deadline(&mut rng);
        let passed = deadline.is_some_and(|d| d.has_passed());
        t.passed_at_start += usize::from(passed);
        let mut sleep = Sleep::on(&s.ids[i]).abort_if(&s.aborts[me]);
        if let Some(d) = deadline {
            sleep = sleep.until(d);
        }
        if rng.below(2) == 0 {
            sleep = sleep.unlocking(s.locks[i].lock());
        }
        let r = sleep.wait();
        if passed {
            assert_eq!(r, Err(Error::TimedOut), "a passed deadline times out first");
        }
        match r {
            Ok(()) => t.ok += 1,
            Err(Error::TimedOut) => {
                assert!(deadline.expect("TimedOut without a deadline").has_passed(), "woke before its deadline");
                t.timed_out += 1;
            }
            Err(Error::Interrupted) => {
                assert!(s.aborts[me].load(Ordering::Relaxed), "Interrupted without the flag");
                t.interrupted += 1;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    // SeqCst: the final sweep stops when it sees every sleeper gone.
    s.exited.fetch_add(1, Ordering::SeqCst);
    t
}

fn waker(s: &Shared, me: usize) -> usize {
    let mut rng = Rng::new(1000 + me as u64);
    let mut woken = 0;
    while !s.stop.load(Ordering::SeqCst) {
        let i = rng.below(IDS as u64) as usize;
        if rng.below(8) == 0 {
            s.aborts[rng.below(SLEEPERS as u64) as usize].store(true, Ordering::Relaxed);
        }
        // Sometimes through the spinlock, as a hand-off partner would.
        let guard = (rng.below(4) == 0).then(|| s.locks[i].lock());
        match wakeup(&s.ids[i], rng.below(4) as usize) {
            Ok(k) => {
                assert!(k >= 1);
                woken += k;
            }
            Err(Error::NoWaiters) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
        drop(guard);
        if rng.below(4) == 0 {
            std::thread::yield_now();
        }
    }
    woken
}

#[test]
fn wakeup_counts_equal_sleeps_that_returned_ok() {
    watchdog(RUN + Duration::from_secs(30), || {
        let s = Arc::new(Shared {
            ids: [0; IDS],
            locks: [const { SpinLock::new(()) }; IDS],
            aborts: (0..SLEEPERS).map(|_| AtomicBool::new(false)).collect(),
            stop: AtomicBool::new(false),
            exited: AtomicUsize::new(0),
        });
        let sleepers: Vec<_> = (0..SLEEPERS)
            .map(|me| {
                let s = s.clone();
                std::thread::spawn(move || sleeper(&s, me))
            })
            .collect();
        let wakers: Vec<_> = (0..WAKERS)
            .map(|me| {
                let s = s.clone();
                std::thread::spawn(move || waker(&s, me))
            })
            .collect();
        let start = Instant::now();
        while start.elapsed() < RUN {
            std::thread::sleep(Duration::from_millis(50)); // the run's length, not a handshake
        }
        s.stop.store(true, Ordering::SeqCst);
        let mut woken: usize = wakers.into_iter().map(|w| w.join().unwrap()).sum();
        // Sleepers in an untimed sleep need a last wakeup; count those too.
        let sweep = Instant::now();
        while s.exited.load(Ordering::SeqCst) < SLEEPERS {
            assert!(sweep.elapsed() < Duration::from_secs(20), "sleepers did not exit");
            for id in &s.ids {
                if let Ok(k) = wakeup(id, 0) {
                    woken += k;
                }
            }
            std::thread::yield_now();
        }
        let mut total = Tally::default();
        for t in sleepers {
            let t = t.join().unwrap();
            total.ok += t.ok;
            total.timed_out += t.timed_out;
            total.interrupted += t.interrupted;
            total.passed_at_start += t.passed_at_start;
        }
        for id in &s.ids {
            assert_eq!(wakeup(id, 0), Err(Error::NoWaiters), "nobody left asleep");
        }
        eprintln!("stress: {total:?}, woken by wakeup: {woken}");
        assert_eq!(woken, total.ok, "sum of wakeup counts == sleeps that returned Ok");
        assert!(total.ok > 0 && total.timed_out > 0 && total.interrupted > 0, "every outcome exercised");
        assert!(total.passed_at_start > 0);
    });
}
