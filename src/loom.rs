//! The facade: the only module that names `std::sync` or `loom` types.
//!
//! Everything else in the crate imports its atomics, cells, the bucket lock and the thread
//! handles from here. Built normally it re-exports std; built with `RUSTFLAGS="--cfg loom"`
//! it re-exports loom's instrumented twins, so a user's loom model explores wchan's table,
//! parker and primitives together with the user's own code. Under `cfg(loom)` this module is
//! public for `model` and `init` alone.

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
    pub(crate) use std::sync::{Mutex, MutexGuard};
    #[allow(unused_imports)] // used by the portable parker only
    pub(crate) use std::thread::{current as current_thread, Thread};

    /// `std::cell::UnsafeCell` with loom's closure-based access API, so the code that touches
    /// cell contents reads the same under both configurations.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Mutex, MutexGuard};
    pub(crate) use loom::thread::{current as current_thread, Thread};
}

pub(crate) use imp::*;

/// Atomics that can be built in a `const` context, which `lock_api::RawMutex::INIT` and
/// `Condvar::new` need. With std they are the atomics themselves. Under loom see
/// [`execution`].
#[cfg(not(loom))]
pub(crate) type ConstAtomicU8 = AtomicU8;
#[cfg(not(loom))]
pub(crate) type ConstAtomicUsize = AtomicUsize;

#[cfg(loom)]
pub(crate) use execution::{bucket_index, ConstAtomicU8, ConstAtomicUsize};

/// Runs `f` as a loom model (every interleaving, up to loom's bounds) after building wchan's
/// per-execution state on the model's main thread: the precise form of `loom::model`.
///
/// A plain `loom::model(f)` is enough for any correct model to pass and any buggy one to fail
/// for its own bug, wherever the model keeps its wchan objects (an `Arc`, a `static`, a thread
/// that builds one and hands it back). What this adds is precision. wchan's per-execution
/// state (its table of wait queues and the loom atomics behind const-built locks) is a set of
/// `loom::lazy_static`s, and loom orders a lazy static's creation before every later use of
/// it, in every thread. Built by whichever thread touches wchan first, that ordering is a
/// happens-before edge the real program lacks: everything that thread did before its first
/// wchan call is then ordered before every other thread's wchan calls, which can hide a
/// missing ordering in the model's own code. Built here, before `f` runs, the edge starts at
/// the model's first instant and orders nothing. It covers the table and the first 32 locks
/// and 32 condvars an execution uses; the next ones come in chunks built by the thread that
/// claims the chunk's first slot (`docs/model-checking.md`).
///
/// With a `loom::model::Builder`, call [`init`] first thing in the closure instead.
#[cfg(loom)]
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    ::loom::model(move || {
        init();
        f()
    });
}

/// From now until the end of this execution, every wake that a bucket's fair timer could
/// make fair is fair (`UnparkResult::be_fair` is true), instead of never, as under loom by
/// default. For models of a primitive's hand-off path, such as wchan's `Mutex` handing the
/// lock to a woken waiter with other lockers about (`loom-tests/tests/mutex.rs`). Call it
/// before the model spawns any thread.
#[cfg(loom)]
pub fn fair_wakes() {
    execution::set_fair_wakes();
}

/// Whether [`fair_wakes`] was called in this execution (the fair timer's answer under loom).
#[cfg(loom)]
pub(crate) fn fair_wakes_on() -> bool {
    execution::fair_wakes()
}

/// Without loom there is no model to ask; the fair timer reads its clock instead.
#[cfg(not(loom))]
pub(crate) const fn fair_wakes_on() -> bool {
    false
}

/// Builds wchan's per-execution state now, from the calling thread: the first statement of a
/// loom model's closure (see [`model`]). Calling it later, or twice, is harmless.
#[cfg(loom)]
pub fn init() {
    execution::init();
    crate::table::init();
}

/// Per-execution state that keeps a loom model deterministic and free of false alarms.
///
/// loom replays schedules and requires every execution of a model to make the same choices
/// along the same schedule; it also checks that every access to one of its objects happens
/// after the object's creation. Two things in wchan need care for that:
///
/// - **Buckets.** A key is an address, and addresses differ between executions. Under loom
///   the bucket of a key is the order in which the execution first hashed it, modulo the two
///   buckets: the 1st, 3rd, 5th… distinct key share bucket 0, the others bucket 1. Collisions
///   stay common and deterministic.
/// - **Const-built atomics.** `RawMutex::INIT` and `Condvar::new` are `const`, and a loom
///   atomic cannot be built in a `const` context (it registers itself with the running
///   execution). So a [`ConstAtomicU8`] / [`ConstAtomicUsize`] holds no atomic: on each access
///   it finds the loom atomic it claimed in *this* execution, claiming the next free one on
///   first use. The atomics live in chunks, each a `loom::lazy_static`, and every access goes
///   through the chunk's lazy static, so loom orders the chunk's creation before the access
///   whatever thread built the lock, touched it first, or got it from another (a thread that
///   reached the atomic through a cached reference would not be ordered after its creation,
///   which loom reports as a causality violation).
///   Claims are kept per execution (a generation number plus a map from the object's
///   address), never as a reference: a `static` lock claims a fresh atomic, created zero, in
///   each execution, even when two models use it at once from libtest's threads.
///
/// Chunk 0 (32 atomics of each kind) is built with the rest of the state by whichever thread
/// touches wchan first, or by [`init`]; chunk `c ≥ 1` (32 · 2^(c-1) atomics) by the thread that
/// claims its first slot. That is an extra happens-before edge, from the builder at that moment
/// to every later user of the chunk: it can hide a race, never report one. [`model`] moves the
/// edge for the table and chunk 0 to the start of the execution, where it orders nothing.
#[cfg(loom)]
mod execution {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::Mutex as StdMutex;

    /// Atomics of each kind in chunk 0, built with the state.
    const FIRST: usize = 32;
    /// Chunks of each kind: 32, 32, 64, 128, … 2048 atomics.
    const CHUNKS: usize = 8;
    /// Const-built objects of one kind (locks, or condvars) one execution may use.
    const CAPACITY: usize = FIRST << (CHUNKS - 1);

    /// Source of generation numbers: one per execution, never 0 (0 marks "never claimed").
    static GENERATIONS: AtomicU64 = AtomicU64::new(0);

    /// Which chunk holds slot `i`, and where in it.
    fn locate(i: usize) -> (usize, usize) {
        if i < FIRST {
            return (0, i);
        }
        // `i / FIRST` in [2^(c-1), 2^c): chunk c, which starts at FIRST << (c - 1).
        let c = (usize::BITS - (i / FIRST).leading_zeros()) as usize;
        (c, i - (FIRST << (c - 1)))
    }

    fn chunk_len(c: usize) -> usize {
        if c == 0 {
            FIRST
        } else {
            FIRST << (c - 1)
        }
    }

    /// The claims of one kind of atomic in one execution. Plain std state: bookkeeping that
    /// must not add loom branch points.
    #[derive(Default)]
    struct Claims {
        /// Object address -> slot, for objects whose claim word names another execution.
        by_address: HashMap<usize, usize>,
        next: usize,
    }

    struct State {
        generation: u64,
        u8s: Vec<loom::sync::atomic::AtomicU8>,
        usizes: Vec<loom::sync::atomic::AtomicUsize>,
        u8_claims: StdMutex<Claims>,
        usize_claims: StdMutex<Claims>,
        keys: StdMutex<Vec<usize>>,
        /// Set by [`super::fair_wakes`]: a std atomic, not a loom one, since it is written once
        /// before any spawn and never races; loom need not explore it.
        fair: std::sync::atomic::AtomicBool,
    }

    loom::lazy_static! {
        static ref STATE: State = State {
            generation: GENERATIONS.fetch_add(1, Relaxed) + 1,
            u8s: (0..FIRST).map(|_| loom::sync::atomic::AtomicU8::new(0)).collect(),
            usizes: (0..FIRST).map(|_| loom::sync::atomic::AtomicUsize::new(0)).collect(),
            u8_claims: StdMutex::default(),
            usize_claims: StdMutex::default(),
            keys: StdMutex::default(),
            fair: std::sync::atomic::AtomicBool::new(false),
        };
    }

    pub(super) fn set_fair_wakes() {
        STATE.fair.store(true, Relaxed);
    }

    /// Whether [`super::fair_wakes`] was called in this execution.
    pub(crate) fn fair_wakes() -> bool {
        STATE.fair.load(Relaxed)
    }

    pub(super) fn init() {
        let _ = STATE.generation;
    }

    /// The bucket of `key` in this execution: see the module docs.
    pub(crate) fn bucket_index(key: usize, buckets: usize) -> usize {
        let mut keys = STATE.keys.lock().unwrap_or_else(|p| p.into_inner());
        let order = keys.iter().position(|&k| k == key).unwrap_or_else(|| {
            keys.push(key);
            keys.len() - 1
        });
        order % buckets
    }

    /// The slot the object at `address`, with claim word `claim`, uses in this execution.
    ///
    /// The claim word holds `generation << 32 | slot + 1` of the last claim. It names this
    /// execution: that slot. It is 0: the object was built since its last claim anywhere (a
    /// new object, maybe at the address of a freed one): a new slot. It names another
    /// execution (a `static` from an earlier model, or one another test thread's model uses
    /// right now): the slot this execution gave that address, or a new one.
    fn slot(claim: &AtomicU64, address: usize, generation: u64, claims: &StdMutex<Claims>, what: &str) -> usize {
        // Relaxed: only the value matters; a word from another execution is never trusted.
        let word = claim.load(Relaxed);
        if word >> 32 == generation & 0xFFFF_FFFF && word != 0 {
            return (word & 0xFFFF_FFFF) as usize - 1;
        }
        let mut claims = claims.lock().unwrap_or_else(|p| p.into_inner());
        let known = if word == 0 { None } else { claims.by_address.get(&address).copied() };
        let i = known.unwrap_or_else(|| {
            let i = claims.next;
            assert!(
                i < CAPACITY,
                "wchan under loom: one model execution used more than {CAPACITY} {what}; \
                 each needs a loom atomic of its own"
            );
            claims.next += 1;
            claims.by_address.insert(address, i);
            i
        });
        claim.store((generation & 0xFFFF_FFFF) << 32 | (i as u64 + 1), Relaxed);
        i
    }

    macro_rules! const_atomic {
        ($name:ident, $atomic:ident, $int:ty, $first:ident, $claims:ident, $what:literal,
         $chunk:ident, [$($c:literal => $static:ident),*]) => {
            loom::lazy_static! {
                $(
                    static ref $static: Vec<loom::sync::atomic::$atomic> =
                        (0..chunk_len($c)).map(|_| loom::sync::atomic::$atomic::new(0)).collect();
                )*
            }

            /// Chunk `c` of this kind, built now if this is its first use in the execution.
            fn $chunk(c: usize) -> &'static [loom::sync::atomic::$atomic] {
                match c {
                    0 => &STATE.$first,
                    $($c => &$static,)*
                    _ => unreachable!("slot beyond the last chunk"),
                }
            }

            /// A const-constructible atomic, always created zero: see the module docs.
            pub(crate) struct $name {
                claim: AtomicU64,
            }

            impl $name {
                /// # Panics
                /// If `init` is not 0 (a compile error where it is evaluated in a `const`):
                /// the loom atomic behind it is created before anyone knows `init`, and
                /// storing it later would be a write by whichever thread came first.
                pub(crate) const fn new(init: $int) -> Self {
                    assert!(init == 0, "under loom a const-built wchan atomic starts at 0");
                    Self { claim: AtomicU64::new(0) }
                }
            }

            impl std::ops::Deref for $name {
                type Target = loom::sync::atomic::$atomic;
                fn deref(&self) -> &Self::Target {
                    // Through the lazy static on every access: loom's Acquire of its creation.
                    let generation = STATE.generation;
                    let address = self as *const Self as usize;
                    let (c, i) = locate(slot(&self.claim, address, generation, &STATE.$claims, $what));
                    &$chunk(c)[i]
                }
            }

            impl std::fmt::Debug for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(stringify!($name))
                }
            }
        };
    }

    const_atomic!(ConstAtomicU8, AtomicU8, u8, u8s, u8_claims, "wchan locks (Mutex, SpinLock, RawMutex)",
        u8_chunk, [1 => U8S_1, 2 => U8S_2, 3 => U8S_3, 4 => U8S_4, 5 => U8S_5, 6 => U8S_6, 7 => U8S_7]);
    const_atomic!(ConstAtomicUsize, AtomicUsize, usize, usizes, usize_claims, "wchan Condvars",
        usize_chunk, [1 => USIZES_1, 2 => USIZES_2, 3 => USIZES_3, 4 => USIZES_4, 5 => USIZES_5,
            6 => USIZES_6, 7 => USIZES_7]);
}

/// `true` when built for loom: locks park instead of spinning and clocks read as zero.
pub(crate) const LOOM: bool = cfg!(loom);
