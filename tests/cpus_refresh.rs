//! The CPU count is cached per thread and read again after `REFRESH` (1,024) asks
//! (`src/cpus.rs`), so a thread sees a change of affinity. This test confines both the main
//! thread and the broadcasting thread to one CPU, checks that a broadcast then wakes a herd
//! of 1 (more could not run at once), lets both out again, makes 1,024 more broadcasts (one
//! ask each), and checks that the herd is back to the main thread's CPU count. Before the
//! count was cached per thread it was read once per process, so the first ask here would
//! have left the herd at 1 for good.
//!
//! One test in this file on purpose: it changes the main thread's mask, which every thread
//! spawned meanwhile inherits. Linux only (`/proc`, `sched_setaffinity`); with one allowed
//! CPU both herds are 1, and that is what the test asserts there.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;
#[path = "common/herd.rs"]
mod herd;

use std::sync::Arc;

use herd::{count, first_cpu_only, main_tid, mask, set_mask, woken_by_a_broadcast};
use wchan::{Condvar, Mutex};

/// More than `wchan`'s `cpus::REFRESH` (1,024): every broadcast that finds a waiter asks once.
const ASKS: usize = 1_100;

/// `n` broadcasts from this thread, each to one waiter that waits again at once.
fn broadcasts(n: usize) {
    let shared = Arc::new((Mutex::new((0usize, false)), Condvar::new()));
    let waiter = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let (m, cv) = &*shared;
            let mut g = m.lock();
            loop {
                g.0 += 1; // one more wait begins (under the lock: the notifier sees it queued)
                cv.wait(&mut g);
                if g.1 {
                    return;
                }
            }
        })
    };
    let (m, cv) = &*shared;
    for i in 1..=n {
        common::wait_until(common::HANG, "the waiter to wait again", || m.lock().0 >= i);
        let g = m.lock();
        assert_eq!(cv.notify_all(), 1, "broadcast {i} finds the one waiter");
        drop(g);
    }
    common::wait_until(common::HANG, "the waiter to wait a last time", || m.lock().0 > n);
    m.lock().1 = true;
    cv.notify_all();
    waiter.join().unwrap();
}

#[test]
fn a_thread_sees_its_cpus_again_within_1024_asks_after_an_affinity_change() {
    common::watchdog(common::HANG * 3, || {
        let (main_before, own_before) = (mask(main_tid()), mask(0));
        let main_cpus = count(&main_before);
        let expected = main_cpus.min(64);
        let waiters = 2 * expected + 3;

        // Confined: this thread and the main thread on the same one CPU.
        let one = first_cpu_only();
        set_mask(main_tid(), &one);
        set_mask(0, &one);
        let woke = woken_by_a_broadcast(waiters, 1);
        assert_eq!(woke, 2, "confined to one CPU with the main thread, the herd is 1: {woke} woke");

        // Let out, and asked again more than REFRESH times: the herd is back.
        set_mask(main_tid(), &main_before);
        set_mask(0, &own_before);
        broadcasts(ASKS);
        let woke = woken_by_a_broadcast(waiters, expected);
        if expected == 1 {
            eprintln!("note: this process may use one CPU only; the herd of 1 is all that can be checked here");
        }
        assert_eq!(
            woke,
            2 * expected,
            "{woke} waiters woke after the affinity was restored and {ASKS} asks: the herd must be \
             {expected} again"
        );
    });
}
