//! loom models of wchan. The models live in `tests/`, each file gated on `cfg(loom)`, so
//! without `RUSTFLAGS="--cfg loom"` this crate builds to nothing. Run them with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test -p loom-tests --release
//! ```
//!
//! `docs/model-checking.md` says what each model proves. This library holds the helpers the
//! models share: loom must replay every execution exactly, so nothing a model does may depend
//! on where the allocator happened to put an object. `key_in_bucket` gives fixed channel ids;
//! a wchan lock's own key is its heap address, whose bucket can change between executions
//! (see `tests/determinism.rs`).

/// A channel id (a key) that hashes to table bucket `bucket`: the `nth` such id above a fixed
/// base. Ids are plain numbers, never dereferenced, so every execution uses the same ones.
pub fn key_in_bucket(bucket: usize, nth: usize) -> usize {
    assert!(bucket < wchan::park::BUCKETS, "wchan has {} buckets", wchan::park::BUCKETS);
    (0x1000..)
        .step_by(8)
        .filter(|&key| wchan::park::bucket_index(key) == bucket)
        .nth(nth)
        .expect("the hash spreads keys over every bucket")
}

/// The table key wchan's own primitives (`Mutex`, `Condvar`) park on: their address with the
/// top bit set (`src/sync/mod.rs`).
pub fn internal_key<T>(primitive: &T) -> usize {
    (primitive as *const T as usize) | (1 << (usize::BITS - 1))
}

/// Returns `lock` after making its state word exist in this execution.
///
/// Under loom, wchan's const-constructible atomics (the state of a `Mutex`/`SpinLock`, a
/// `Condvar`) are created on first use, and loom counts that creation as a write. If two
/// threads race to be first, loom reports "Causality violation: Concurrent load and mut
/// accesses": the other thread's access is not ordered after the creation. Touching the lock
/// once in the thread that built it, before spawning, orders the creation before every other
/// thread's access.
pub fn created<R: lock_api::RawMutex, T>(lock: lock_api::Mutex<R, T>) -> lock_api::Mutex<R, T> {
    let _ = lock.is_locked();
    lock
}
