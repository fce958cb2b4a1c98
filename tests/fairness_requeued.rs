//! Eventual fairness for a condvar waiter that a notify moved onto a held mutex (issue 13,
//! fifth pass). An unlock consults the fair timer (a clock read) only once a woken waiter has
//! lost the lock and parked again (`RETRIED` in `src/sync/mutex.rs`). A waiter that arrives on
//! the mutex's queue by a requeue, not by a lost race, is the case that rule could leave
//! behind: this test makes a thread that relocks at once notify it, over and over, and counts
//! how long it waits for the mutex. One test in this binary, so no other test competes for
//! the two CPUs while it counts.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_until, watchdog, HANG};
use wchan::{Condvar, Mutex};

#[derive(Default)]
struct State {
    /// The holder's critical sections so far.
    sections: u64,
    /// The waiter is waiting on the condvar and wants a notify.
    want: bool,
    /// `sections` when the holder notified.
    notified_at: u64,
}

/// A holder takes the mutex for 200 µs and relocks at once, over and over; whenever the
/// waiter asks, it calls `notify_one` with the mutex held, so the waiter is moved (requeued)
/// onto the mutex's queue and must then win the mutex from the holder. Its wait is counted in
/// the holder's sections between the notify and its return from `wait`. Measured with the
/// fifth pass's code: a handful of sections (the requeued waiter loses about twice, then the
/// timer serves it within about a millisecond): 6-21 sections in eight runs, over about
/// 1,950 notifies each. With the timer never consulted for the mutex (a scratch build with
/// `want_fair` false in `unlock_slow`) the worst wait was 1,224 sections, and only 11
/// notified waits finished in the 1.5 s: barging alone starves it. The bound, 500, is the one
/// of `tests/fairness.rs`.
#[test]
fn a_condvar_waiter_moved_onto_a_relocked_mutex_waits_a_few_sections_not_thousands() {
    watchdog(Duration::from_secs(60), || {
        let shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let holder = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                let (m, cv) = &*shared;
                while !stop.load(Ordering::Relaxed) {
                    let mut g = m.lock();
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(200) {
                        std::hint::spin_loop();
                    }
                    g.sections += 1;
                    if g.want {
                        g.want = false;
                        g.notified_at = g.sections;
                        // With the mutex held: the waiter is moved onto the mutex's queue.
                        cv.notify_one();
                    }
                }
            })
        };
        let (m, cv) = &*shared;
        wait_until(HANG, "the holder holds the lock", || m.lock().sections > 10);
        let (mut worst, mut count) = (0, 0u32);
        let run = Instant::now();
        while run.elapsed() < Duration::from_millis(1500) {
            let mut g = m.lock();
            g.want = true;
            // Spurious wakeups return with `want` still set: keep waiting for the notify.
            cv.wait_while(&mut g, |s| s.want);
            worst = worst.max(g.sections - g.notified_at);
            count += 1;
            drop(g);
        }
        stop.store(true, Ordering::Relaxed);
        holder.join().unwrap();
        eprintln!("worst wait over {count} notifies onto a relocked mutex: {worst} sections");
        assert!(count >= 10, "only {count} notified waits in 1.5 s");
        assert!(worst <= 500, "waited through {worst} of the holder's sections: a requeued waiter is not served");
    });
}
