//! loom models of wchan. The models live in `tests/`, each file gated on `cfg(loom)`, so
//! without `RUSTFLAGS="--cfg loom"` this crate builds to nothing. Run them with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test -p loom-tests --release
//! ```
//!
//! `docs/model-checking.md` says what each model proves. This library holds what the models
//! share. loom replays every execution of a model and requires the same choices along the
//! same schedule, so nothing may depend on where the allocator put an object; under loom
//! wchan therefore places a key in a bucket by the order in which the execution first hashed
//! it (`src/loom.rs`). [`start`] uses that order to choose which keys collide.
//!
//! SAFETY (every `unsafe` call into `wchan::park` here): the key is an address this file owns
//! (a local, a leaked box or a static of its own) and every park and unpark on it follows the
//! protocol of the primitive or test around it.

/// A fixed channel id: a plain number, never dereferenced, the same in every execution.
pub const fn channel(i: usize) -> usize {
    0x1000 + 64 * i
}

/// A key registered only to shift the keys after it to the other bucket.
pub const SPARE: usize = 0x800;

/// Chooses which keys collide; call it first, from the model's main thread, before spawning.
///
/// Registers `keys` with wchan's table in order, so `keys[i]` lands in bucket
/// `i % wchan::park::BUCKETS` (`[a, b, c]`: `a` and `c` share bucket 0, `b` is alone in
/// bucket 1; pass [`SPARE`] to skip a bucket). Only models that must put two keys in one
/// bucket, or in two, need it; the others run under `wchan::loom::model` (as
/// [`model_reaching`] does) and let keys take buckets in the order they come. Since it is the
/// first wchan call of the execution and comes before any spawn, it also builds wchan's
/// per-execution state, as `wchan::loom::init` would. With no keys, [`SPARE`] is registered.
///
/// # Panics
/// If a wchan operation ran earlier in this execution (the buckets would differ).
pub fn start(keys: &[usize]) {
    let keys = if keys.is_empty() { &[SPARE][..] } else { keys };
    for (i, &key) in keys.iter().enumerate() {
        assert_eq!(
            wchan::park::bucket_index(key),
            i % wchan::park::BUCKETS,
            "loom_tests::start must be the first wchan call of the execution, with distinct keys"
        );
    }
    // Builds the table (an unpark with nobody parked takes no lock: a fence and a load).
    assert_eq!(unsafe { wchan::park::unpark_all(keys[0], wchan::park::DEFAULT_UNPARK_TOKEN) }, 0);
}

/// The address a wchan `Mutex` (or `SpinLock`) parks on: its `RawMutex`'s, in wchan's internal
/// key space (`src/sync/mod.rs`). The bucket depends on the address alone, so pass it to
/// [`start`] to choose the lock's bucket.
pub fn mutex_key<T: ?Sized>(mutex: &wchan::Mutex<T>) -> usize {
    // SAFETY: `raw` is unsafe because unlocking through it would break a guard; only the
    // address is taken here.
    internal_key(unsafe { mutex.raw() })
}

/// The table key a wchan `Condvar` parks on; see [`mutex_key`].
pub fn condvar_key(condvar: &wchan::Condvar) -> usize {
    internal_key(condvar)
}

fn internal_key<T>(primitive: &T) -> usize {
    primitive as *const T as usize
}

/// The outcomes a model reported over all its executions; see [`model_reaching`].
#[derive(Clone, Default)]
pub struct Outcomes(std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<&'static str>>>);

impl Outcomes {
    /// Records that this execution ended in `outcome`. Plain std state: no loom branch point.
    pub fn saw(&self, outcome: &'static str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(outcome);
    }
}

/// The smallest `LOOM_MAX_PREEMPTIONS` at which every model reaches all its outcomes (at 2,
/// for example, no execution times a waiter out after it was requeued).
pub const COVERAGE_BOUND: usize = 3;

/// Runs `f` under `wchan::loom::model` (loom's, with wchan's state built first), then checks that over all executions `f` reported every
/// outcome in `expected` through [`Outcomes::saw`]: proof that the model reaches the cases it
/// claims to check rather than passing because a race never happens. The check is skipped
/// (with a note) when `LOOM_MAX_PREEMPTIONS` is below [`COVERAGE_BOUND`].
#[cfg(loom)]
pub fn model_reaching<F>(expected: &[&'static str], f: F)
where
    F: Fn(&Outcomes) + Sync + Send + 'static,
{
    let outcomes = Outcomes::default();
    let seen = outcomes.clone();
    wchan::loom::model(move || f(&seen));
    let bound = std::env::var("LOOM_MAX_PREEMPTIONS").ok().and_then(|b| b.parse::<usize>().ok());
    if bound.is_some_and(|b| b < COVERAGE_BOUND) {
        eprintln!("note: outcome coverage is checked from LOOM_MAX_PREEMPTIONS={COVERAGE_BOUND} on");
        return;
    }
    let seen = outcomes.0.lock().unwrap_or_else(|p| p.into_inner());
    for want in expected {
        assert!(seen.contains(want), "no execution reached {want:?}; reached {seen:?}");
    }
}
