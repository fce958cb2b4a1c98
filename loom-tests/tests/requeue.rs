//! loom models of `wchan::park::unpark_requeue`: waiters moved from one key to another are
//! woken by the target key and by nothing else, none is lost, and the counts are exact. Each
//! runs with the two keys in different buckets (the requeue takes two bucket locks, in index
//! order) and in the same bucket (one lock, the move stays within one list).
//!
//! SAFETY (every `unsafe` call into `wchan::park` here): the key is an address this file owns
//! (a local, a leaked box or a static of its own) and every park and unpark on it follows the
//! protocol of the primitive or test around it.
#![cfg(loom)]

use std::time::Duration;

use loom::sync::atomic::{
    AtomicBool, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use loom::sync::Arc;
use loom::thread;
use loom_tests::{channel, model_reaching, start, Outcomes, SPARE};
use wchan::park::{self, bucket_index, ParkOptions, ParkResult, RequeueOp, UnparkResult, UnparkToken};
use wchan::Deadline;

/// The token the requeue hands the waiter it wakes itself (`UnparkOneRequeueRest`).
const WOKEN_BY_REQUEUE: UnparkToken = UnparkToken(5);
/// The token of the unpark on the target key.
const WOKEN_ON_TARGET: UnparkToken = UnparkToken(7);
/// The token of an unpark on the source key after the requeue: nobody may receive it.
const WOKEN_ON_SOURCE: UnparkToken = UnparkToken(9);

/// The source and target keys, registered so that they share a bucket or not.
fn keys(same_bucket: bool) -> (usize, usize) {
    let (from, to) = (channel(0), channel(1));
    if same_bucket {
        start(&[from, SPARE, to]);
    } else {
        start(&[from, to]);
    }
    assert_eq!(bucket_index(from) == bucket_index(to), same_bucket);
    (from, to)
}

/// Two waiters park on `from` while `closed` is false; the main thread requeues with `op`,
/// closing the key under the bucket locks (so a waiter that validates later never parks and
/// the requeue's snapshot is complete). Then an unpark on `from` must find nobody and an
/// unpark on `to` must wake exactly the moved ones.
fn requeue_model(same_bucket: bool, op: RequeueOp) {
    model_reaching(&["both queued", "one queued"], move |outcomes: &Outcomes| {
        let (from, to) = keys(same_bucket);
        let closed = Arc::new(AtomicBool::new(false));
        let returned = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (closed, returned) = (closed.clone(), returned.clone());
                thread::spawn(move || {
                    // Relaxed: `closed` is read and written only under `from`'s bucket lock.
                    let validate = || !closed.load(Relaxed);
                    let result =
                        unsafe { park::park(from, ParkOptions::new(), validate, || {}, |_, _| unreachable!()) };
                    returned.fetch_add(1, Relaxed);
                    result
                })
            })
            .collect();

        let close = || {
            closed.store(true, Relaxed);
            op
        };
        let found = unsafe {
            park::unpark_requeue(from, to, close, |chosen, _| {
                assert_eq!(chosen, op);
                WOKEN_BY_REQUEUE
            })
        };
        let queued = found.unparked + found.requeued;
        assert!(!found.have_more, "the requeue left waiters behind: {found:?}");
        let expected_unparked = if op == RequeueOp::RequeueAll { 0 } else { queued.min(1) };
        assert_eq!(found.unparked, expected_unparked, "{found:?}");

        // The moved waiters are asleep on `to` now: `from` is empty and none has returned.
        assert_eq!(unsafe { park::unpark_all(from, WOKEN_ON_SOURCE) }, 0, "a waiter stayed on the source key");
        assert!(returned.load(Relaxed) <= 2 - found.requeued, "a moved waiter returned before its wakeup");
        assert_eq!(
            unsafe { park::unpark_all(to, WOKEN_ON_TARGET) },
            found.requeued,
            "the target key lost a moved waiter"
        );

        let results: Vec<ParkResult> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
        let count = |r: ParkResult| results.iter().filter(|&&x| x == r).count();
        assert_eq!(count(ParkResult::Unparked(WOKEN_BY_REQUEUE)), found.unparked, "{results:?}");
        assert_eq!(count(ParkResult::Unparked(WOKEN_ON_TARGET)), found.requeued, "{results:?}");
        assert_eq!(count(ParkResult::Invalid), 2 - queued, "{results:?}");
        outcomes.saw(["none queued", "one queued", "both queued"][queued]);
    });
}

#[test]
fn requeue_all_across_buckets_moves_every_waiter_to_the_target() {
    requeue_model(false, RequeueOp::RequeueAll);
}

#[test]
fn requeue_all_within_a_bucket_moves_every_waiter_to_the_target() {
    requeue_model(true, RequeueOp::RequeueAll);
}

#[test]
fn unpark_one_requeue_rest_across_buckets_wakes_the_oldest_and_moves_the_rest() {
    requeue_model(false, RequeueOp::UnparkOneRequeueRest);
}

#[test]
fn unpark_one_requeue_rest_within_a_bucket_wakes_the_oldest_and_moves_the_rest() {
    requeue_model(true, RequeueOp::UnparkOneRequeueRest);
}

/// A waiter with a deadline (which under loom may expire whenever it would block) races a
/// requeue across buckets and then an unpark of the target. When it gives up it must find
/// itself in whichever bucket holds it at that moment (it follows the move), report the key it
/// left from to `on_cancel`, and not be counted by any unpark; when it is woken, the unpark
/// that woke it counts it.
#[test]
fn timed_out_waiter_leaves_the_queue_it_was_moved_to() {
    const OUTCOMES: [&str; 3] = ["woken on the target", "timed out on the source", "timed out on the target"];
    model_reaching(&OUTCOMES, |outcomes: &Outcomes| {
        let (from, to) = keys(false);
        let left_from = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let left_from = left_from.clone();
            thread::spawn(move || {
                let options = ParkOptions::new().deadline(Deadline::after(Duration::from_secs(3600)));
                unsafe {
                    park::park(
                        from,
                        options,
                        || true,
                        || {},
                        |key, was_last| {
                            assert!(was_last);
                            left_from.store(key, Relaxed); // read after join
                        },
                    )
                }
            })
        };
        let moved = unsafe { park::unpark_requeue(from, to, || RequeueOp::RequeueAll, |_, _| WOKEN_BY_REQUEUE) };
        assert_eq!(moved.unparked, 0);
        let woken = unsafe { park::unpark_all(to, WOKEN_ON_TARGET) };
        assert!(woken <= moved.requeued, "woke a waiter that was never moved");
        let result = waiter.join().unwrap();
        match result {
            ParkResult::Unparked(token) => {
                assert_eq!((token, woken, moved.requeued), (WOKEN_ON_TARGET, 1, 1));
                assert_eq!(left_from.load(Relaxed), 0, "a woken waiter ran on_cancel");
                outcomes.saw("woken on the target");
            }
            ParkResult::TimedOut => {
                assert_eq!(woken, 0, "the unpark counted a waiter that timed out");
                let expected = if moved.requeued == 1 { to } else { from };
                assert_eq!(left_from.load(Relaxed), expected, "cancelled from the wrong key");
                outcomes.saw(if expected == to { "timed out on the target" } else { "timed out on the source" });
            }
            other => panic!("park returned {other:?}"),
        }
    });
}

/// A Drepper-style lock on `park` (0 free, 1 held, 2 held and maybe waited for), with a
/// "gate" its waiters first park on: the shape of a condvar whose notify moves the waiters
/// onto the lock instead of waking them (issue 9, item 2).
struct GatedLock {
    word: AtomicUsize,
    /// The gate: a waiter parks on `gate_key` while this is false.
    opened: AtomicBool,
    data: loom::cell::UnsafeCell<usize>,
}

// SAFETY: `data` is touched only while `word` says the lock is held by the toucher.
unsafe impl Sync for GatedLock {}

/// The token of the requeue's own wakeup (`UnparkOneRequeueRest`, when the lock was free).
const WOKEN_AT_THE_GATE: UnparkToken = UnparkToken(11);

impl GatedLock {
    fn lock_key(&self) -> usize {
        &self.word as *const AtomicUsize as usize
    }

    fn gate_key(&self) -> usize {
        &self.opened as *const AtomicBool as usize
    }

    /// Drepper's contended path: announce a waiter (2) and park while the word stays 2.
    fn lock(&self) {
        // Acquire: pairs with the Release of the unlock that freed the word.
        if self.word.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
            return;
        }
        while self.word.swap(2, Acquire) != 0 {
            // SAFETY: `lock_key` is this lock's own word; every park and unpark on it follows
            // this protocol (park while 2, the unlocker of a 2 wakes one).
            let result = unsafe {
                park::park(self.lock_key(), ParkOptions::new(), || self.word.load(Relaxed) == 2, || {}, |_, _| {})
            };
            assert!(matches!(result, ParkResult::Unparked(_) | ParkResult::Invalid), "{result:?}");
        }
    }

    /// The lock-free unlock: only a word that was 2 costs an unpark.
    fn unlock(&self) {
        // Release: publishes the critical section to the next locker.
        if self.word.swap(0, Release) == 2 {
            // SAFETY: as in `lock`.
            unsafe { park::unpark_n(self.lock_key(), 1, park::DEFAULT_UNPARK_TOKEN) };
        }
    }

    /// Waits at the gate until it opens (moved to the lock's queue by then, or woken), then
    /// takes the lock as a contended locker: its word stays 2, so its unlock wakes the next.
    fn wait_at_the_gate_then_lock(&self) -> ParkResult {
        // SAFETY: `gate_key` is this lock's own gate; the only unpark of it is `open_gate`'s
        // requeue, which moves the waiters to `lock_key`, whose protocol they then follow.
        let result =
            unsafe { park::park(self.gate_key(), ParkOptions::new(), || !self.opened.load(Relaxed), || {}, |_, _| {}) };
        while self.word.swap(2, Acquire) != 0 {
            // SAFETY: as in `lock`.
            unsafe {
                park::park(self.lock_key(), ParkOptions::new(), || self.word.load(Relaxed) == 2, || {}, |_, _| {})
            };
        }
        result
    }

    /// Opens the gate and moves its waiters onto the lock. Under both bucket locks: if the
    /// lock is held, mark it 2 (its unlock will wake one moved waiter) and move them all;
    /// if it is free, wake one (it takes the lock as contended) and move the rest.
    fn open_gate(&self) -> UnparkResult {
        let validate = || {
            self.opened.store(true, Relaxed);
            loop {
                match self.word.load(Relaxed) {
                    0 => return RequeueOp::UnparkOneRequeueRest,
                    2 => return RequeueOp::RequeueAll,
                    _ => {
                        if self.word.compare_exchange(1, 2, Relaxed, Relaxed).is_ok() {
                            return RequeueOp::RequeueAll;
                        }
                    }
                }
            }
        };
        // SAFETY: both keys are this lock's own; the moved waiters park on `lock_key` under
        // its protocol (an unpark of the lock may wake them).
        unsafe { park::unpark_requeue(self.gate_key(), self.lock_key(), validate, |_, _| WOKEN_AT_THE_GATE) }
    }
}

/// The owner holds the lock; a waiter parks at the gate; a third thread opens the gate,
/// moving the waiter onto the lock's key in the other bucket, while the owner unlocks through
/// the lock-free path (`swap(0) == 2` => `unpark_n(lock, 1)`). The unlock must find the moved
/// waiter: the requeue raises the target bucket's sleeper count before its `validate`
/// publishes the 2 (DESIGN invariant 8). With the old order (`--cfg
/// wchan_bug="requeue_counts_after_check"`) the unlock can read a count of 0 and return,
/// leaving the waiter asleep on a free lock: loom reports the deadlock.
#[test]
fn requeue_onto_a_lock_released_without_its_bucket_lock_loses_no_waiter() {
    const OUTCOMES: [&str; 3] = ["moved, then woken by the unlock", "woken by the requeue", "never parked"];
    model_reaching(&OUTCOMES, |outcomes: &Outcomes| {
        // std's Arc: under the deliberate bug loom's would panic again while the deadlock
        // panic unwinds, aborting the test binary instead of failing the model.
        let lock = std::sync::Arc::new(GatedLock {
            word: AtomicUsize::new(0),
            opened: AtomicBool::new(false),
            data: loom::cell::UnsafeCell::new(0),
        });
        start(&[lock.gate_key(), lock.lock_key()]);
        assert_ne!(bucket_index(lock.gate_key()), bucket_index(lock.lock_key()));
        lock.lock();
        let waiter = {
            let lock = lock.clone();
            thread::spawn(move || {
                let result = lock.wait_at_the_gate_then_lock();
                // SAFETY: the lock is held.
                lock.data.with_mut(|d| unsafe { *d += 1 });
                lock.unlock();
                result
            })
        };
        let opener = {
            let lock = lock.clone();
            thread::spawn(move || lock.open_gate())
        };
        // SAFETY: the lock is held.
        lock.data.with_mut(|d| unsafe { *d += 1 });
        lock.unlock();
        let result = waiter.join().unwrap();
        let found = opener.join().unwrap();
        lock.lock();
        // SAFETY: the lock is held.
        assert_eq!(lock.data.with(|d| unsafe { *d }), 2);
        lock.unlock();
        match result {
            ParkResult::Invalid => {
                assert_eq!((found.unparked, found.requeued), (0, 0));
                outcomes.saw("never parked");
            }
            ParkResult::Unparked(WOKEN_AT_THE_GATE) => {
                assert_eq!((found.unparked, found.requeued), (1, 0));
                outcomes.saw("woken by the requeue");
            }
            ParkResult::Unparked(_) => {
                assert_eq!((found.unparked, found.requeued), (0, 1));
                outcomes.saw("moved, then woken by the unlock");
            }
            other => panic!("park returned {other:?}"),
        }
    });
}
