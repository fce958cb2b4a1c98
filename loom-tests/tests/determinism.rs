//! loom replays executions by their recorded branch choices, so a model must do the same
//! thing in every execution given the same schedule. wchan hashes a key (an address) to a
//! table bucket; a lock's key is its address, and the allocator may place the lock
//! differently in each execution. Under loom wchan therefore buckets a key by the order in
//! which the execution first saw it (`src/loom.rs`). This model records which bucket a
//! heap-allocated `SpinLock` parks on, per execution, and requires it to be the same every
//! time (it failed before that change).
#![cfg(loom)]

use std::collections::BTreeSet;
use std::sync::{Arc as StdArc, Mutex as StdMutex};

use loom::sync::Arc;
use loom::thread;
use loom_tests::mutex_key;
use wchan::SpinLock;

#[test]
fn a_locks_bucket_is_the_same_in_every_execution() {
    let buckets = StdArc::new(StdMutex::new(BTreeSet::new()));
    let seen = buckets.clone();
    wchan::loom::model(move || {
        let lock = Arc::new(SpinLock::new(0u32));
        seen.lock().unwrap().insert(wchan::park::bucket_index(mutex_key(&lock)));
        let other = {
            let lock = lock.clone();
            thread::spawn(move || *lock.lock() += 1)
        };
        *lock.lock() += 1;
        other.join().unwrap();
        assert_eq!(*lock.lock(), 2);
    });
    let buckets = buckets.lock().unwrap();
    assert_eq!(buckets.len(), 1, "the lock parked on buckets {buckets:?} in different executions");
}
