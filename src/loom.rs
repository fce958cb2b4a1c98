//! The facade: the only module that names `std::sync` or `loom` types.
//!
//! Everything else in the crate imports its atomics, cells, the bucket lock and the thread
//! handles from here. Built normally it re-exports std; built with `RUSTFLAGS="--cfg loom"`
//! it re-exports loom's instrumented twins, so a user's loom model explores wchan's table,
//! parker and primitives together with the user's own code.

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

/// Per-execution state that keeps a loom model deterministic.
///
/// loom replays schedules and requires every execution of a model to make the same choices
/// along the same schedule. Two things in wchan would otherwise depend on where the allocator
/// happened to put an object, which differs between executions:
///
/// - **Buckets.** A key is an address. Under loom the bucket of a key is the order in which
///   the execution first hashed it, modulo the two buckets: the 1st, 3rd, 5th… distinct key
///   share bucket 0, the others bucket 1. Collisions stay common and deterministic.
/// - **Const-built atomics.** loom's atomics cannot be built in a `const` context, and one
///   created lazily by whichever thread touches it first counts as written by that thread, so
///   a thread that built the lock and touches it later races with the creation. Instead each
///   execution pre-creates a pool of atomics inside a `loom::lazy_static` (whose
///   initialization loom orders before every later access), and a lock takes the next free one
///   on first use. The cost: a thread's first wchan operation of an execution synchronizes
///   with the one that initialized the pool (and likewise for the table, also a lazy static),
///   an edge real hardware does not have. Make one wake on any key (`wakeup(&x, 1)`) from the
///   model's main thread before spawning: it builds both, keeping that edge out of the picture.
///   Create wchan locks inside `loom::model`, never in statics. Keys are registered by
///   address, so an object freed mid-execution and another allocated at the same address
///   share a bucket assignment (harmless: same key, same bucket).
#[cfg(loom)]
mod execution {
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::OnceLock;

    /// Atomics of each kind pre-created per execution; a model that needs more wchan locks
    /// than this in one execution fails with a message saying so.
    const POOL: usize = 32;

    struct State {
        u8s: Vec<loom::sync::atomic::AtomicU8>,
        usizes: Vec<loom::sync::atomic::AtomicUsize>,
        // Plain std state: bookkeeping that must not add loom branch points.
        next_u8: std::sync::atomic::AtomicUsize,
        next_usize: std::sync::atomic::AtomicUsize,
        keys: std::sync::Mutex<Vec<usize>>,
    }

    loom::lazy_static! {
        static ref STATE: State = State {
            u8s: (0..POOL).map(|_| loom::sync::atomic::AtomicU8::new(0)).collect(),
            usizes: (0..POOL).map(|_| loom::sync::atomic::AtomicUsize::new(0)).collect(),
            next_u8: std::sync::atomic::AtomicUsize::new(0),
            next_usize: std::sync::atomic::AtomicUsize::new(0),
            keys: std::sync::Mutex::new(Vec::new()),
        };
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

    macro_rules! const_atomic {
        ($name:ident, $atomic:ident, $int:ty, $pool:ident, $next:ident) => {
            /// A const-constructible atomic: takes a pooled loom atomic on first use.
            pub(crate) struct $name {
                init: $int,
                slot: OnceLock<&'static loom::sync::atomic::$atomic>,
            }

            impl $name {
                pub(crate) const fn new(init: $int) -> Self {
                    Self { init, slot: OnceLock::new() }
                }
            }

            impl std::ops::Deref for $name {
                type Target = loom::sync::atomic::$atomic;
                fn deref(&self) -> &Self::Target {
                    self.slot.get_or_init(|| {
                        let i = STATE.$next.fetch_add(1, Relaxed);
                        let atomic = STATE.$pool.get(i).unwrap_or_else(|| {
                            panic!("wchan under loom: more than {POOL} locks/condvars in one execution")
                        });
                        if self.init != 0 {
                            atomic.store(self.init, loom::sync::atomic::Ordering::Relaxed);
                        }
                        atomic
                    })
                }
            }

            impl std::fmt::Debug for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(stringify!($name))
                }
            }
        };
    }

    const_atomic!(ConstAtomicU8, AtomicU8, u8, u8s, next_u8);
    const_atomic!(ConstAtomicUsize, AtomicUsize, usize, usizes, next_usize);
}

/// `true` when built for loom: locks park instead of spinning and clocks read as zero.
pub(crate) const LOOM: bool = cfg!(loom);
