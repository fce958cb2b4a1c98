//! Ids that share a table bucket (and ids that do not) keep separate queues: a wakeup of one
//! never wakes, counts or reorders the sleepers of another.
mod common;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{wait_until, watchdog, HANG};
use wchan::park::bucket_index;
use wchan::{wakeup, Deadline, Error, Sleep, SpinLock};

/// Candidate ids: more addresses than buckets, so some pairs must collide.
static IDS: [u64; 4 * wchan::park::BUCKETS] = [0; 4 * wchan::park::BUCKETS];

fn addr(p: &u64) -> usize {
    p as *const u64 as usize
}

/// Two distinct ids in the same bucket, skipping the first `skip` such pairs (so tests that
/// run in parallel use different ids).
fn colliding_pair(skip: usize) -> (&'static u64, &'static u64) {
    let mut first_in_bucket = vec![None; wchan::park::BUCKETS];
    let mut seen = 0;
    for id in IDS.iter() {
        let b = bucket_index(addr(id));
        match first_in_bucket[b] {
            None => first_in_bucket[b] = Some(id),
            Some(a) => {
                if seen == skip {
                    assert_ne!(addr(a), addr(id));
                    assert_eq!(bucket_index(addr(a)), bucket_index(addr(id)));
                    return (a, id);
                }
                seen += 1;
                first_in_bucket[b] = None;
            }
        }
    }
    panic!("no colliding pair among {} ids", IDS.len());
}

/// Two ids in different buckets, disjoint from the colliding pairs' first choices.
fn separate_pair() -> (&'static u64, &'static u64) {
    let a = &IDS[IDS.len() - 1];
    let b = IDS.iter().rev().find(|b| bucket_index(addr(b)) != bucket_index(addr(a))).unwrap();
    (a, b)
}

/// Sleepers on several ids queued one at a time through one spinlock, so the order of their
/// queueing is known. Each records `(id, index)` when its `wait` returns.
struct Sleepers {
    lock: Arc<SpinLock<usize>>,
    returned: Arc<Mutex<Vec<(usize, usize)>>>,
    handles: Vec<JoinHandle<Result<(), Error>>>,
}

impl Sleepers {
    fn new() -> Sleepers {
        Sleepers { lock: Arc::new(SpinLock::new(0)), returned: Arc::default(), handles: Vec::new() }
    }

    /// Queues sleeper number `index` on `id`, optionally with a deadline; returns once queued.
    fn add(&mut self, id: &'static u64, index: usize, deadline: Option<Deadline>) {
        let queued_before = *self.lock.lock();
        let (lock, returned) = (self.lock.clone(), self.returned.clone());
        self.handles.push(std::thread::spawn(move || {
            let mut g = lock.lock();
            *g += 1;
            let sleep = Sleep::on(id).unlocking(g);
            let r = match deadline {
                Some(d) => sleep.until(d).wait(),
                None => sleep.wait(),
            };
            returned.lock().unwrap().push((addr(id), index));
            r
        }));
        wait_until(HANG, "sleeper queued", || *self.lock.lock() == queued_before + 1);
    }

    fn returned(&self) -> Vec<(usize, usize)> {
        self.returned.lock().unwrap().clone()
    }

    fn wait_returned(&self, n: usize) -> Vec<(usize, usize)> {
        wait_until(HANG, "sleepers to return", || self.returned.lock().unwrap().len() >= n);
        self.returned()
    }

    fn join(self) -> Vec<Result<(), Error>> {
        self.handles.into_iter().map(|h| h.join().unwrap()).collect()
    }
}

fn sleepers_on_one_id_are_not_woken_by_another(a: &'static u64, b: &'static u64) {
    let mut s = Sleepers::new();
    for i in 0..3 {
        s.add(a, i, None);
    }
    assert_eq!(wakeup(b, 0), Err(Error::NoWaiters));
    assert_eq!(wakeup(b, 1), Err(Error::NoWaiters));
    for i in 0..2 {
        s.add(b, i, None);
    }
    assert_eq!(wakeup(b, 0), Ok(2), "only b's sleepers are counted");
    let mut woken = s.wait_returned(2);
    woken.sort_unstable();
    assert_eq!(woken, vec![(addr(b), 0), (addr(b), 1)]);
    assert_eq!(wakeup(b, 0), Err(Error::NoWaiters));
    assert_eq!(wakeup(a, 0), Ok(3), "a's sleepers all stayed queued");
    assert!(s.join().iter().all(|r| *r == Ok(())));
}

#[test]
fn sleepers_on_an_id_are_not_woken_by_a_colliding_id() {
    watchdog(HANG, || {
        let (a, b) = colliding_pair(0);
        sleepers_on_one_id_are_not_woken_by_another(a, b);
    });
}

#[test]
fn sleepers_on_an_id_are_not_woken_by_an_id_in_another_bucket() {
    watchdog(HANG, || {
        let (a, b) = separate_pair();
        assert_ne!(bucket_index(addr(a)), bucket_index(addr(b)));
        sleepers_on_one_id_are_not_woken_by_another(a, b);
    });
}

#[test]
fn interleaved_sleepers_of_colliding_ids_keep_fifo_order_per_id() {
    watchdog(HANG, || {
        let (a, b) = colliding_pair(1);
        let mut s = Sleepers::new();
        // Queue a0 b0 a1 b1 a2 b2 in that order.
        for i in 0..3 {
            s.add(a, i, None);
            s.add(b, i, None);
        }
        let mut expect = Vec::new();
        // Wake alternately one of b, one of a: each wakes the oldest of its own id.
        for i in 0..3 {
            for id in [b, a] {
                assert_eq!(wakeup(id, 1), Ok(1));
                expect.push((addr(id), i));
                assert_eq!(s.wait_returned(expect.len()), expect);
            }
        }
        assert_eq!(wakeup(a, 0), Err(Error::NoWaiters));
        assert_eq!(wakeup(b, 0), Err(Error::NoWaiters));
        assert!(s.join().iter().all(|r| *r == Ok(())));
    });
}

#[test]
fn a_timeout_on_a_colliding_id_leaves_the_other_queue_intact() {
    watchdog(HANG, || {
        let (a, b) = colliding_pair(2);
        let mut s = Sleepers::new();
        // b0, a0 (times out), b1, a1 (times out), a2, b2: a's sleepers leave their FIFO by
        // themselves while it shares the bucket with b's.
        s.add(b, 0, None);
        s.add(a, 0, Some(Deadline::after(Duration::from_millis(30))));
        s.add(b, 1, None);
        s.add(a, 1, Some(Deadline::after(Duration::from_millis(30))));
        s.add(a, 2, None);
        s.add(b, 2, None);
        let timed_out = s.wait_returned(2);
        let mut sorted = timed_out.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![(addr(a), 0), (addr(a), 1)]);
        for i in 0..3 {
            assert_eq!(wakeup(b, 1), Ok(1));
            assert_eq!(s.wait_returned(3 + i)[2 + i], (addr(b), i), "b's FIFO is intact");
        }
        assert_eq!(wakeup(a, 0), Ok(1), "a2 remains");
        let results = s.join();
        assert_eq!(results[1], Err(Error::TimedOut));
        assert_eq!(results[3], Err(Error::TimedOut));
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    });
}

#[test]
fn many_colliding_ids_each_count_only_their_own() {
    const PAIRS: usize = 4;
    watchdog(HANG, || {
        let pairs: Vec<_> = (10..10 + PAIRS).map(colliding_pair).collect();
        let mut s = Sleepers::new();
        for (k, (a, b)) in pairs.iter().enumerate() {
            // k + 1 sleepers on a, k + 2 on b.
            for i in 0..=k {
                s.add(a, i, None);
            }
            for i in 0..=k + 1 {
                s.add(b, i, None);
            }
        }
        let mut total = 0;
        for (k, (a, b)) in pairs.iter().enumerate() {
            assert_eq!(wakeup(*a, 0), Ok(k + 1));
            assert_eq!(wakeup(*b, 0), Ok(k + 2));
            total += 2 * k + 3;
        }
        assert_eq!(s.wait_returned(total).len(), total);
        assert!(s.join().iter().all(|r| *r == Ok(())));
    });
}
