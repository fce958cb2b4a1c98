//! Requeue across buckets versus a lock-free wake of the target (DESIGN invariant 8, counts
//! before checks; issue 9, item 2).
//!
//! SAFETY (every `unsafe` call into `wchan::park` here): the keys are this file's own leaked
//! words and every park and unpark on them follows the Drepper-style lock protocol below.

mod common;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{wait_until, watchdog, HANG};
use wchan::park::{self, bucket_index, ParkOptions, ParkResult, RequeueOp, DEFAULT_UNPARK_TOKEN};
use wchan::Deadline;

/// Two leaked words whose keys live in different buckets: the gate waiters first park on, and
/// the lock they are moved to.
fn gate_and_lock() -> (&'static AtomicU32, &'static AtomicU32) {
    let gate: &'static AtomicU32 = Box::leak(Box::new(AtomicU32::new(0)));
    loop {
        let lock: &'static AtomicU32 = Box::leak(Box::new(AtomicU32::new(0)));
        if bucket_index(key(lock)) != bucket_index(key(gate)) {
            return (gate, lock);
        }
    }
}

fn key(word: &AtomicU32) -> usize {
    word as *const AtomicU32 as usize
}

/// A Drepper-style lock word (0 free, 1 held, 2 held with waiters) whose waiters are moved
/// onto it by a requeue: the requeue's `validate` marks the lock "held with waiters" (2) and
/// moves the gate's sleeper; the owner unlocks with `swap(0) == 2 => unpark_n(lock, 1)`, the
/// lock-free path. Whatever the interleaving, the sleeper is woken: by the requeue itself when
/// the lock is already free, or by the owner's unpark, which must see the moved sleeper even
/// while the requeue is still moving it. Before the fix the owner's unpark could read the
/// target bucket's count before the requeue raised it and return 0: the sleeper then slept
/// until its deadline (3 lost in 21 rounds in the report).
#[test]
fn requeue_onto_a_lock_never_hides_the_sleeper_from_a_lock_free_unlock() {
    watchdog(Duration::from_secs(120), || {
        const ROUNDS: usize = 300;
        let (gate, lock) = gate_and_lock();
        let mut lost = 0;
        for _ in 0..ROUNDS {
            lock.store(1, Ordering::SeqCst); // the owner (this thread) holds it
            let queued = Arc::new(AtomicUsize::new(0));
            let sleeper = {
                let queued = queued.clone();
                std::thread::spawn(move || {
                    let validate = || {
                        queued.fetch_add(1, Ordering::SeqCst);
                        true
                    };
                    // A deadline far beyond a wake's latency: reaching it means the wake was lost.
                    let d = Deadline::after(Duration::from_millis(300));
                    unsafe { park::park(key(gate), ParkOptions::new().deadline(d), validate, || {}, |_, _| {}) }
                })
            };
            wait_until(HANG, "the sleeper is queued on the gate", || queued.load(Ordering::SeqCst) == 1);
            let requeuer = std::thread::spawn(move || {
                let validate = || match lock.compare_exchange(1, 2, Ordering::SeqCst, Ordering::SeqCst) {
                    Ok(_) => {
                        // Held: move the sleeper to wait for it. Keep the window between
                        // publishing 2 and the move open a little, so the owner below acts on
                        // the published state while the move is in progress (the race the
                        // report hit 3 times in 21 rounds, made certain).
                        let t = std::time::Instant::now();
                        while t.elapsed() < Duration::from_millis(2) {
                            std::hint::spin_loop();
                        }
                        RequeueOp::RequeueAll
                    }
                    Err(_) => RequeueOp::UnparkOne, // free already: just wake it
                };
                unsafe { park::unpark_requeue(key(gate), key(lock), validate, |_, _| DEFAULT_UNPARK_TOKEN) }
            });
            // The owner unlocks once it sees what the requeue's validate published.
            let t = std::time::Instant::now();
            while lock.load(Ordering::SeqCst) != 2 {
                assert!(t.elapsed() < HANG, "validate never marked the lock");
                std::hint::spin_loop();
            }
            if lock.swap(0, Ordering::SeqCst) == 2 {
                unsafe { park::unpark_n(key(lock), 1, DEFAULT_UNPARK_TOKEN) };
            }
            requeuer.join().unwrap();
            match sleeper.join().unwrap() {
                ParkResult::Unparked(_) => {}
                ParkResult::TimedOut => lost += 1,
                other => panic!("unexpected park result {other:?}"),
            }
        }
        assert_eq!(lost, 0, "{lost} of {ROUNDS} requeued sleepers were never woken");
    });
}
