//! Eventual fairness of wchan's Mutex with a third thread about (issue 13): an unlock releases
//! the lock before it looks for a waiter to hand it to, so a second relocking thread can take
//! it in between and the hand-off becomes owed (`HANDOFF` in `src/sync/mutex.rs`; the loom
//! model `a_fair_hand_off_that_a_barger_interrupts_still_serves_the_waiter_next` explores that
//! window exhaustively). One test in this binary, so no other test competes for the CPUs.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_until, watchdog, HANG};
use wchan::Mutex;

/// Two threads hold the lock for 200 µs each time and relock at once; a third calls `lock()`.
/// Its wait is counted in the holders' critical sections (both holders together) that pass
/// before it gets in, as in `tests/fairness.rs`, with the same bound: a few sections with a
/// working fair timer, thousands without.
#[test]
fn a_locker_facing_two_threads_that_relock_at_once_waits_a_few_sections_not_thousands() {
    watchdog(Duration::from_secs(60), || {
        let m = Arc::new(Mutex::new(0u64));
        let stop = Arc::new(AtomicBool::new(false));
        let holders: Vec<_> = (0..2)
            .map(|_| {
                let (m, stop) = (m.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let mut g = m.lock();
                        let t = Instant::now();
                        while t.elapsed() < Duration::from_micros(200) {
                            std::hint::spin_loop();
                        }
                        *g += 1;
                    }
                })
            })
            .collect();
        wait_until(HANG, "the holders hold the lock", || *m.lock() > 10);
        let (mut worst, mut worst_time, mut waits) = (0u64, Duration::ZERO, 0u32);
        let run = Instant::now();
        while run.elapsed() < Duration::from_millis(1500) {
            let (before, t) = (*m.lock(), Instant::now());
            wait_until(HANG, "a holder to relock", || m.is_locked());
            let g = m.lock();
            worst = worst.max(*g - before);
            worst_time = worst_time.max(t.elapsed());
            waits += 1;
            drop(g);
        }
        stop.store(true, Ordering::Relaxed);
        for h in holders {
            h.join().unwrap();
        }
        eprintln!("worst wait over {waits} locks against two relocking holders: {worst} sections, {worst_time:?}");
        assert!(waits >= 10, "only {waits} locks in 1.5 s");
        assert!(worst <= 500, "waited through {worst} of the holders' sections: the lock is not eventually fair");
    });
}
