//! `Condvar::notify_one` with thousands of waiters, on both of its paths (the mutex held: the
//! waiter is moved onto it; the mutex free: the waiter is woken): each notify reaches exactly
//! one waiter, and costs no more with the queue long than with it short. A notify that counted
//! the whole queue (under its bucket lock) would make draining `n` waiters cost `n²/2` node
//! visits, and would hold up every other key hashed to that bucket meanwhile. Both tests fail
//! that way with the count unbounded (53-75 us against 0.5 us; 74-92 us against 7-8 us).
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_until, watchdog, HANG};
use wchan::{Condvar, Mutex};

/// Enough that a notify walking the queue is far slower at the start than at the end. Under
/// Miri (a few threads only) the test checks the counts, not the costs.
const WAITERS: usize = if cfg!(miri) { 12 } else { 3000 };
/// Notifies timed at each end of the drain.
const END: usize = if cfg!(miri) { 4 } else { 200 };
/// The short queue of the second test.
const SHORT: usize = if cfg!(miri) { 3 } else { 16 };
/// Each test's watchdog. Natively a test takes about a second; under qemu-user (the aarch64
/// suite in CI) starting 3,000 threads takes most of the 24 s the file took there, so a
/// loaded machine needs room beyond `HANG * 3`.
const LIMIT: Duration = Duration::from_secs(HANG.as_secs() * 6);

#[derive(Default)]
struct State {
    queued: usize,
    done: bool,
    returned: usize,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A condvar with `n` waiters that wait again each time they are woken, until `done`.
struct Crowd {
    shared: Arc<(Mutex<State>, Condvar)>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Crowd {
    fn start(n: usize) -> Crowd {
        let shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let handles = (0..n)
            .map(|_| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        let (m, cv) = &*shared;
                        let mut g = m.lock();
                        while !g.done {
                            // Counted under the lock each time, so queued once this lock is
                            // let go by the wait.
                            g.queued += 1;
                            cv.wait(&mut g);
                            g.returned += 1;
                        }
                    })
                    .expect("spawn waiter")
            })
            .collect();
        let crowd = Crowd { shared, handles };
        wait_until(HANG, "every waiter to be queued", || crowd.queued() == n);
        crowd
    }

    /// How many times its waiters have gone into a wait.
    fn queued(&self) -> usize {
        self.shared.0.lock().queued
    }

    /// One `notify_one` with the mutex free and every waiter queued, timed; returns once the
    /// woken waiter is queued again, so each call meets the same state and takes the same
    /// path (a wake).
    fn notify(&self) -> Duration {
        let before = self.queued();
        let start = Instant::now();
        let found = self.shared.1.notify_one();
        let took = start.elapsed();
        assert!(found, "every waiter was queued");
        wait_until(HANG, "the woken waiter to wait again", || self.queued() == before + 1);
        took
    }

    /// Ends the crowd; returns how many wakes its waiters counted, and how many of them the
    /// final broadcast woke or moved.
    fn stop(self) -> (usize, usize) {
        let (m, cv) = &*self.shared;
        m.lock().done = true;
        let broadcast = cv.notify_all();
        for h in self.handles {
            h.join().unwrap();
        }
        let returned = m.lock().returned;
        (returned, broadcast)
    }
}

#[test]
fn notify_one_under_the_lock_costs_the_same_with_3000_waiters_as_with_a_few() {
    watchdog(LIMIT, || {
        let crowd = Crowd::start(WAITERS);
        let (m, cv) = &*crowd.shared;
        // Holding the lock, each notify moves one waiter onto the mutex and wakes nobody.
        let mut g = m.lock();
        let mut costs = Vec::with_capacity(WAITERS);
        for i in 0..WAITERS {
            let start = Instant::now();
            let moved = cv.notify_one();
            costs.push(start.elapsed());
            assert!(moved, "notify {i} of {WAITERS} found a waiter");
        }
        assert!(!cv.notify_one(), "every waiter has been moved");
        assert_eq!(g.returned, 0, "a moved waiter sleeps until the mutex is free");
        // Set before the mutex is let go: each moved waiter returns once, sees `done` and
        // leaves, so the final broadcast finds nobody.
        g.done = true;
        drop(g);
        assert_eq!(crowd.stop(), (WAITERS, 0));

        let first = median(costs[..END].to_vec());
        let last = median(costs[WAITERS - END..].to_vec());
        println!(
            "notify_one, median of {END}: {first:?} with {WAITERS}..{} queued, {last:?} with {END}..1",
            WAITERS - END
        );
        if !cfg!(miri) {
            // Measured here: a notify that walked the queue read 71-122 us at the start
            // against 0.5-1 us at the end; one that does not, 0.05-0.75 us against 0.04-0.6 us
            // (release and debug builds). The bound leaves room for a noisy machine.
            assert!(
                first < last * 5 + Duration::from_micros(2),
                "notify_one cost grows with the queue: {first:?} vs {last:?}"
            );
        }
    });
}

#[test]
fn notify_one_with_the_mutex_free_costs_the_same_on_a_long_queue_as_on_a_short_one() {
    watchdog(LIMIT, || {
        let rounds = END;
        let long = Crowd::start(WAITERS);
        let short = Crowd::start(SHORT);
        // Interleaved, so load on the machine lands on both alike. Each woken waiter waits
        // again at the back of its queue before the next notify, so the long queue stays long.
        let (mut on_long, mut on_short) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
        for _ in 0..rounds {
            on_long.push(long.notify());
            on_short.push(short.notify());
        }
        // Every wait returns exactly once per notify that found it: the timed notifies' and
        // the final broadcast's, which finds every waiter queued.
        for (crowd, n, name) in [(long, WAITERS, "long"), (short, SHORT, "short")] {
            assert_eq!(crowd.stop(), (rounds + n, n), "returns from wait on the {name} queue");
        }
        let (l, s) = (median(on_long), median(on_short));
        println!("notify_one with the mutex free, median of {rounds}: {l:?} with {WAITERS} queued, {s:?} with {SHORT}");
        if !cfg!(miri) {
            assert!(l < s * 5 + Duration::from_micros(2), "notify_one cost grows with the queue: {l:?} vs {s:?}");
        }
    });
}
