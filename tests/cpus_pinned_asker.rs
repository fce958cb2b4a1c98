//! How many CPUs the process may run on decides how many waiters `Condvar::notify_all` wakes
//! directly (the rest are moved onto the mutex), whether a contended `Mutex` pauses or yields
//! while it spins, and whether a condvar waiter spins at all. Linux keeps an affinity mask
//! per thread, so the asking thread may be pinned to one CPU while the process runs on many:
//! wchan counts the union of the asker's mask and the main thread's. This test pins the
//! broadcasting thread, the one that asks, to one CPU, leaves the main thread alone, and
//! measures the broadcast's herd (`common/herd.rs`): it must be the main thread's CPU count,
//! not 1.
//!
//! This file holds one test on purpose: no other test may change the main thread's mask
//! while it runs (`cpus_refresh.rs` does, in its own process). Linux only (`/proc`,
//! `sched_setaffinity`); on a machine with one allowed CPU the two answers coincide, and the
//! test asserts the herd of 1 that holds there.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;
#[path = "common/herd.rs"]
mod herd;

use herd::{count, first_cpu_only, main_tid, mask, set_mask, woken_by_a_broadcast};

#[test]
fn a_broadcaster_pinned_to_one_cpu_still_wakes_a_herd_of_the_main_threads_cpus() {
    common::watchdog(common::HANG, || {
        let main_cpus = count(&mask(main_tid()));
        let expected = main_cpus.min(64);
        // This thread asks for the first time while pinned (a fresh thread: nothing cached).
        set_mask(0, &first_cpu_only());
        assert_eq!(count(&mask(0)), 1);
        let woke = woken_by_a_broadcast(2 * expected + 3, expected);
        if expected == 1 {
            eprintln!("note: this process may use one CPU only; the herd of 1 is all that can be checked here");
        }
        assert_eq!(
            woke,
            2 * expected,
            "{woke} waiters woke: the main thread may run on {main_cpus} CPUs, so the herd must be \
             {expected}, each waking one more early (a broadcaster pinned to one CPU must not make it 1)"
        );
    });
}
