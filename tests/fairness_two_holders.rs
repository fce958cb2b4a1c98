//! Eventual fairness of wchan's Mutex with a third thread about (issue 13): an unlock releases
//! the lock before it looks for a waiter to hand it to, so a second relocking thread can take
//! it in between and the hand-off becomes owed (`HANDOFF` in `src/sync/mutex.rs`; the loom
//! model `a_fair_hand_off_that_a_barger_interrupts_still_serves_the_waiter_next` explores that
//! window exhaustively). One test in this binary, so no other test competes for the CPUs.

mod common;
#[path = "common/relocking.rs"]
mod relocking;

use std::time::Duration;

use common::watchdog;

/// Two threads hold the lock for 200 µs each time and relock at once; a third calls `lock()`.
/// Its wait is counted in the holders' critical sections (both holders together) that pass
/// before it gets in, as in `tests/fairness.rs`, with the same bound: a few sections with a
/// working fair timer, thousands without.
#[test]
fn a_locker_facing_two_threads_that_relock_at_once_waits_a_few_sections_not_thousands() {
    watchdog(Duration::from_secs(60), || {
        let waits = relocking::against_relocking_holders(2);
        let (worst, count) = (waits.worst, waits.count);
        eprintln!(
            "worst wait over {count} locks against two relocking holders: {worst} sections, {:?}",
            waits.worst_time
        );
        assert!(count >= 10, "only {count} locks in 1.5 s");
        assert!(worst <= 500, "waited through {worst} of the holders' sections: the lock is not eventually fair");
    });
}
