//! `wchan::park`: validate under the bucket lock, tokens, `UnparkResult`, requeue, on_cancel,
//! and a panic in `validate`.
//!
//! SAFETY (every `unsafe` call into `wchan::park` here): the key is an address this file owns
//! (a local, a leaked box or a static of its own) and every park and unpark on it follows the
//! protocol of the primitive or test around it.
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{wait_until, watchdog, HANG};
use wchan::park::{self, ParkOptions, ParkResult, RequeueOp, UnparkResult, UnparkToken, DEFAULT_UNPARK_TOKEN};
use wchan::{Deadline, SpinLock};

/// A fresh key nobody else uses: the address of a leaked byte.
fn key() -> usize {
    Box::leak(Box::new(0u8)) as *const u8 as usize
}

/// Parked threads queued one at a time on a key (known order). Each records its index and
/// its `ParkResult` when `park` returns.
struct Parked {
    lock: Arc<SpinLock<usize>>,
    returned: Arc<Mutex<Vec<(usize, ParkResult)>>>,
    handles: Vec<JoinHandle<()>>,
}

impl Parked {
    fn new() -> Parked {
        Parked { lock: Arc::new(SpinLock::new(0)), returned: Arc::default(), handles: Vec::new() }
    }

    /// Parks thread `index` on `key` (released from the spinlock in `before_sleep`, so whoever
    /// takes the lock afterwards finds it queued); returns once it is queued.
    fn add(&mut self, key: usize, index: usize, options: ParkOptions<'static>, on_cancel: fn(usize, bool)) {
        let before = *self.lock.lock();
        let (lock, returned) = (self.lock.clone(), self.returned.clone());
        self.handles.push(std::thread::spawn(move || {
            let mut g = lock.lock();
            *g += 1;
            let r = unsafe { park::park(key, options, || true, move || drop(g), on_cancel) };
            returned.lock().unwrap().push((index, r));
        }));
        wait_until(HANG, "thread parked", || *self.lock.lock() == before + 1);
    }

    fn add_n(&mut self, key: usize, n: usize) {
        for i in 0..n {
            self.add(key, i, ParkOptions::new(), |_, _| panic!("no cancel expected"));
        }
    }

    fn wait_returned(&self, n: usize) -> Vec<(usize, ParkResult)> {
        wait_until(HANG, "parked threads to return", || self.returned.lock().unwrap().len() >= n);
        self.returned.lock().unwrap().clone()
    }

    fn join(self) -> Vec<(usize, ParkResult)> {
        for h in self.handles {
            h.join().unwrap();
        }
        let mut r = self.returned.lock().unwrap().clone();
        r.sort_by_key(|(i, _)| *i);
        r
    }
}

#[test]
fn validate_false_returns_invalid_and_queues_nothing() {
    watchdog(HANG, || {
        let k = key();
        let (before_sleep_ran, cancel_ran) = (AtomicBool::new(false), AtomicBool::new(false));
        let r = unsafe {
            park::park(
                k,
                ParkOptions::new(),
                || false,
                || before_sleep_ran.store(true, Ordering::Relaxed),
                |_, _| cancel_ran.store(true, Ordering::Relaxed),
            )
        };
        assert_eq!(r, ParkResult::Invalid);
        assert!(!r.is_unparked());
        assert!(!before_sleep_ran.load(Ordering::Relaxed), "before_sleep runs only when queued");
        assert!(!cancel_ran.load(Ordering::Relaxed));
        assert_eq!(unsafe { park::unpark_all(k, DEFAULT_UNPARK_TOKEN) }, 0);
        let found = unsafe {
            park::unpark_one(k, |r| {
                assert_eq!(r, UnparkResult::default());
                DEFAULT_UNPARK_TOKEN
            })
        };
        assert_eq!(found, UnparkResult::default(), "nothing queued");
    });
}

#[test]
fn validate_runs_under_the_lock_with_unpark_callbacks() {
    const PARKS: usize = 1000;
    watchdog(HANG, || {
        let k = key();
        // Each callback enters by incrementing `inside` and must find it 0; it lingers a
        // little so an overlap would be caught.
        let inside = Arc::new(AtomicUsize::new(0));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let critical = |inside: &AtomicUsize, overlaps: &AtomicUsize| {
            if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                overlaps.fetch_add(1, Ordering::SeqCst);
            }
            for _ in 0..50 {
                std::hint::spin_loop();
            }
            inside.fetch_sub(1, Ordering::SeqCst);
        };
        let waker = {
            let (inside, overlaps, stop) = (inside.clone(), overlaps.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut woken = 0;
                while !stop.load(Ordering::SeqCst) {
                    woken += unsafe {
                        park::unpark_one(k, |_| {
                            critical(&inside, &overlaps);
                            DEFAULT_UNPARK_TOKEN
                        })
                    }
                    .unparked;
                }
                woken
            })
        };
        let mut unparked = 0;
        for i in 0..PARKS {
            let r = unsafe {
                park::park(
                    k,
                    ParkOptions::new(),
                    || {
                        critical(&inside, &overlaps);
                        i % 4 != 0 // some parks do not sleep
                    },
                    || {},
                    |_, _| panic!("no cancel expected"),
                )
            };
            match r {
                ParkResult::Unparked(_) => unparked += 1,
                ParkResult::Invalid => assert_eq!(i % 4, 0),
                other => panic!("{other:?}"),
            }
        }
        stop.store(true, Ordering::SeqCst);
        assert_eq!(waker.join().unwrap(), unparked);
        assert_eq!(unparked, PARKS - PARKS / 4);
        assert_eq!(overlaps.load(Ordering::SeqCst), 0, "validate and an unpark callback overlapped");
    });
}

#[test]
fn tokens_pass_from_the_waker_to_the_parked_thread() {
    watchdog(HANG, || {
        let k = key();
        let mut p = Parked::new();
        p.add_n(k, 4);
        let r = unsafe {
            park::unpark_one(k, |found| {
                assert_eq!(found.unparked, 1);
                UnparkToken(0xDEAD_BEEF)
            })
        };
        assert_eq!(r.unparked, 1);
        assert_eq!(p.wait_returned(1), vec![(0, ParkResult::Unparked(UnparkToken(0xDEAD_BEEF)))]);
        assert_eq!(unsafe { park::unpark_n(k, 2, UnparkToken(7)) }, 2);
        p.wait_returned(3);
        assert_eq!(unsafe { park::unpark_all(k, UnparkToken(usize::MAX)) }, 1);
        let results = p.join();
        assert_eq!(
            results.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
            vec![
                ParkResult::Unparked(UnparkToken(0xDEAD_BEEF)),
                ParkResult::Unparked(UnparkToken(7)),
                ParkResult::Unparked(UnparkToken(7)),
                ParkResult::Unparked(UnparkToken(usize::MAX)),
            ]
        );
        assert_eq!(unsafe { park::unpark_n(k, 0, UnparkToken(1)) }, 0, "n = 0 wakes none");
    });
}

#[test]
fn unpark_result_have_more_is_right() {
    watchdog(HANG, || {
        let k = key();
        let mut p = Parked::new();
        p.add_n(k, 3);
        for (i, more) in [(0, true), (1, true), (2, false)] {
            let mut seen = None;
            let r = unsafe {
                park::unpark_one(k, |found| {
                    seen = Some(found);
                    UnparkToken(i)
                })
            };
            assert_eq!(seen, Some(r), "the callback sees what the call returns");
            assert_eq!((r.unparked, r.requeued, r.have_more), (1, 0, more), "unpark {i}");
            assert_eq!(p.wait_returned(i + 1)[i], (i, ParkResult::Unparked(UnparkToken(i))), "FIFO");
        }
        let r = unsafe {
            park::unpark_one(k, |found| {
                assert_eq!(found.unparked, 0);
                DEFAULT_UNPARK_TOKEN
            })
        };
        assert_eq!((r.unparked, r.have_more), (0, false));
        p.join();
    });
}

#[test]
fn requeue_all_moves_every_waiter_to_the_target_key() {
    watchdog(HANG, || {
        let (from, to) = (key(), key());
        let mut p = Parked::new();
        p.add_n(from, 3);
        let r = unsafe {
            park::unpark_requeue(
                from,
                to,
                || RequeueOp::RequeueAll,
                |op, found| {
                    assert_eq!(op, RequeueOp::RequeueAll);
                    assert_eq!((found.unparked, found.requeued), (0, 3));
                    UnparkToken(99)
                },
            )
        };
        assert_eq!((r.unparked, r.requeued, r.have_more), (0, 3, false));
        assert_eq!(unsafe { park::unpark_all(from, DEFAULT_UNPARK_TOKEN) }, 0, "nobody left on the source");
        // Order is kept on the target: one at a time, oldest first.
        for i in 0..3 {
            assert_eq!(unsafe { park::unpark_n(to, 1, UnparkToken(100 + i)) }, 1);
            assert_eq!(p.wait_returned(i + 1)[i], (i, ParkResult::Unparked(UnparkToken(100 + i))));
        }
        assert_eq!(unsafe { park::unpark_all(to, DEFAULT_UNPARK_TOKEN) }, 0);
        p.join();
    });
}

#[test]
fn unpark_one_requeue_rest_wakes_exactly_one_and_moves_the_rest() {
    watchdog(HANG, || {
        let (from, to) = (key(), key());
        let mut p = Parked::new();
        p.add_n(from, 4);
        let r = unsafe { park::unpark_requeue(from, to, || RequeueOp::UnparkOneRequeueRest, |_, _| UnparkToken(5)) };
        assert_eq!((r.unparked, r.requeued, r.have_more), (1, 3, false));
        assert_eq!(p.wait_returned(1), vec![(0, ParkResult::Unparked(UnparkToken(5)))]);
        assert_eq!(unsafe { park::unpark_all(from, DEFAULT_UNPARK_TOKEN) }, 0);
        assert_eq!(unsafe { park::unpark_all(to, UnparkToken(6)) }, 3);
        let results = p.join();
        assert!(results[1..].iter().all(|(_, r)| *r == ParkResult::Unparked(UnparkToken(6))));
    });
}

#[test]
fn requeue_abort_and_unpark_one_do_what_they_say() {
    watchdog(HANG, || {
        let (from, to) = (key(), key());
        let mut p = Parked::new();
        p.add_n(from, 3);
        let called = AtomicBool::new(false);
        let r = unsafe {
            park::unpark_requeue(
                from,
                to,
                || RequeueOp::Abort,
                |_, _| {
                    called.store(true, Ordering::Relaxed);
                    DEFAULT_UNPARK_TOKEN
                },
            )
        };
        assert_eq!(r, UnparkResult::default());
        assert!(!called.load(Ordering::Relaxed), "no callback after Abort");
        let r = unsafe { park::unpark_requeue(from, to, || RequeueOp::UnparkOne, |_, _| UnparkToken(1)) };
        assert_eq!((r.unparked, r.requeued, r.have_more), (1, 0, true));
        assert_eq!(p.wait_returned(1), vec![(0, ParkResult::Unparked(UnparkToken(1)))]);
        assert_eq!(unsafe { park::unpark_all(to, DEFAULT_UNPARK_TOKEN) }, 0);
        assert_eq!(unsafe { park::unpark_all(from, DEFAULT_UNPARK_TOKEN) }, 2);
        p.join();
    });
}

#[test]
fn requeue_one_and_unpark_one_report_whether_waiters_remain_on_the_source() {
    watchdog(HANG, || {
        let (from, to) = (key(), key());
        let mut p = Parked::new();
        p.add_n(from, 4);
        // The single-waiter operations look one node past the oldest, no further: the count
        // they report must still say whether anyone is left.
        for (i, more) in [(0, true), (1, true), (2, true)] {
            let mut seen = None;
            let r = unsafe {
                park::unpark_requeue(
                    from,
                    to,
                    || RequeueOp::RequeueOne,
                    |_, found| {
                        seen = Some(found);
                        DEFAULT_UNPARK_TOKEN
                    },
                )
            };
            assert_eq!(seen, Some(r), "the callback sees what the call returns");
            assert_eq!((r.unparked, r.requeued, r.have_more), (0, 1, more), "requeue {i}");
        }
        let r = unsafe { park::unpark_requeue(from, to, || RequeueOp::UnparkOne, |_, _| UnparkToken(3)) };
        assert_eq!((r.unparked, r.requeued, r.have_more), (1, 0, false), "the last one");
        assert_eq!(p.wait_returned(1), vec![(3, ParkResult::Unparked(UnparkToken(3)))]);
        // The moved three wait on the target, oldest first.
        for i in 0..3 {
            assert_eq!(unsafe { park::unpark_n(to, 1, UnparkToken(10 + i)) }, 1);
            assert_eq!(p.wait_returned(2 + i)[1 + i], (i, ParkResult::Unparked(UnparkToken(10 + i))));
        }
        p.join();
    });
}

static CANCELS: Mutex<Vec<(usize, bool)>> = Mutex::new(Vec::new());

fn record_cancel(key: usize, was_last: bool) {
    CANCELS.lock().unwrap().push((key, was_last));
}

fn cancels_for(key: usize) -> Vec<bool> {
    CANCELS.lock().unwrap().iter().filter(|(k, _)| *k == key).map(|(_, last)| *last).collect()
}

#[test]
fn on_cancel_reports_whether_the_timed_out_waiter_was_last() {
    watchdog(HANG, || {
        let k = key();
        let mut p = Parked::new();
        // 0 sleeps until woken; 1 times out while 0 remains: was_last false.
        p.add(k, 0, ParkOptions::new(), record_cancel);
        // The deadline is taken before the thread is spawned: leave room for a slow spawn
        // under load (or Miri), or park would time out before queueing and run no on_cancel.
        p.add(k, 1, ParkOptions::new().deadline(Deadline::after(Duration::from_millis(300))), record_cancel);
        assert_eq!(p.wait_returned(1), vec![(1, ParkResult::TimedOut)]);
        assert_eq!(cancels_for(k), vec![false]);
        assert_eq!(unsafe { park::unpark_all(k, DEFAULT_UNPARK_TOKEN) }, 1);
        p.wait_returned(2);
        // 2 is alone on the key when it times out: was_last true.
        p.add(k, 2, ParkOptions::new().deadline(Deadline::after(Duration::from_millis(300))), record_cancel);
        assert_eq!(p.wait_returned(3)[2], (2, ParkResult::TimedOut));
        assert_eq!(cancels_for(k), vec![false, true], "no cancel for the unparked one");
        p.join();
    });
}

static ABORT: AtomicBool = AtomicBool::new(true);

#[test]
fn on_cancel_runs_for_an_aborted_park_too() {
    watchdog(HANG, || {
        let k = key();
        let mut p = Parked::new();
        p.add(k, 0, ParkOptions::new().abort_if(&ABORT), record_cancel);
        assert_eq!(p.wait_returned(1), vec![(0, ParkResult::Interrupted)]);
        assert_eq!(cancels_for(k), vec![true]);
        assert_eq!(unsafe { park::unpark_all(k, DEFAULT_UNPARK_TOKEN) }, 0);
        p.join();
    });
}

#[test]
fn a_passed_deadline_runs_no_callback() {
    let k = key();
    let d = Deadline::after(Duration::ZERO);
    let r = unsafe {
        park::park(
            k,
            ParkOptions::new().deadline(d),
            || panic!("validate"),
            || panic!("before_sleep"),
            |_, _| panic!("on_cancel"),
        )
    };
    assert_eq!(r, ParkResult::TimedOut);
}

#[test]
fn a_panic_in_validate_propagates_and_the_key_still_works() {
    watchdog(HANG, || {
        let k = key();
        for _ in 0..3 {
            let r = std::panic::catch_unwind(|| unsafe {
                park::park(k, ParkOptions::new(), || panic!("validate panics"), || {}, |_, _| {})
            });
            let msg = *r.unwrap_err().downcast::<&str>().unwrap();
            assert_eq!(msg, "validate panics");
        }
        assert_eq!(unsafe { park::unpark_all(k, DEFAULT_UNPARK_TOKEN) }, 0, "the panicking park was not queued");
        let mut p = Parked::new();
        p.add_n(k, 2);
        assert_eq!(unsafe { park::unpark_one(k, |_| UnparkToken(3)) }.unparked, 1);
        assert_eq!(unsafe { park::unpark_all(k, UnparkToken(4)) }, 1);
        let results = p.join();
        assert_eq!(results, vec![(0, ParkResult::Unparked(UnparkToken(3))), (1, ParkResult::Unparked(UnparkToken(4)))]);
        // The bucket lock was released: a park on any key takes it again.
        let k2 = key();
        assert_eq!(unsafe { park::park(k2, ParkOptions::new(), || false, || {}, |_, _| {}) }, ParkResult::Invalid);
    });
}

#[test]
fn a_panic_in_an_unpark_callback_propagates_and_wakes_nobody() {
    watchdog(HANG, || {
        let k = key();
        let mut p = Parked::new();
        p.add_n(k, 2);
        let r = std::panic::catch_unwind(|| unsafe { park::unpark_one(k, |_| panic!("callback panics")) });
        assert!(r.is_err());
        assert_eq!(unsafe { park::unpark_all(k, UnparkToken(8)) }, 2, "both still queued");
        assert!(p.join().iter().all(|(_, r)| *r == ParkResult::Unparked(UnparkToken(8))));
    });
}

#[test]
fn a_panic_in_before_sleep_leaves_the_thread_unqueued() {
    watchdog(HANG, || {
        let k = key();
        let r = std::panic::catch_unwind(|| unsafe {
            park::park(k, ParkOptions::new(), || true, || panic!("before_sleep panics"), |_, _| {})
        });
        assert!(r.is_err());
        assert_eq!(unsafe { park::unpark_all(k, DEFAULT_UNPARK_TOKEN) }, 0, "the node left the queue on unwind");
        let mut p = Parked::new();
        p.add_n(k, 1);
        assert_eq!(unsafe { park::unpark_all(k, DEFAULT_UNPARK_TOKEN) }, 1);
        p.join();
    });
}
