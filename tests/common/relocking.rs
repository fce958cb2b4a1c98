//! The fairness measurement of `fairness.rs` and `fairness_two_holders.rs`: `holders` threads
//! hold a `wchan::Mutex` for 200 µs at a time and relock at once, while the calling thread
//! locks it over and over for 1.5 s. Each binary runs one such test, so no other test
//! competes for the CPUs while it counts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{wait_until, HANG};
use wchan::Mutex;

/// What the waiter saw.
pub struct Waits {
    /// How many times it got the lock.
    pub count: u32,
    /// The most of the holders' critical sections (all holders together) that passed during
    /// one of its `lock()` calls, and the longest such call.
    pub worst: u64,
    pub worst_time: Duration,
}

/// Runs the measurement with `holders` relocking threads; see the module docs.
pub fn against_relocking_holders(holders: usize) -> Waits {
    let m = Arc::new(Mutex::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..holders)
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
    let mut waits = Waits { count: 0, worst: 0, worst_time: Duration::ZERO };
    let run = Instant::now();
    while run.elapsed() < Duration::from_millis(1500) {
        let (before, t) = (*m.lock(), Instant::now());
        // Let a holder take it again, so this lock() starts against a held lock.
        wait_until(HANG, "a holder to relock", || m.is_locked());
        let g = m.lock();
        waits.worst = waits.worst.max(*g - before);
        waits.worst_time = waits.worst_time.max(t.elapsed());
        waits.count += 1;
        drop(g);
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    waits
}
