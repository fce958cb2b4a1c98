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
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Mutex, MutexGuard};
    pub(crate) use loom::thread::{current as current_thread, Thread};
}

pub(crate) use imp::*;

/// Atomics that can be built in a `const` context, which `lock_api::RawMutex::INIT` and
/// `Condvar::new` need. With std they are the atomics themselves. loom's atomics cannot be
/// built in a const context, so under loom they are created on first use, inside the model
/// execution that first touches them: build wchan locks inside `loom::model`, not in statics.
#[cfg(not(loom))]
pub(crate) type ConstAtomicU8 = AtomicU8;
#[cfg(not(loom))]
pub(crate) type ConstAtomicUsize = AtomicUsize;

#[cfg(loom)]
macro_rules! const_atomic {
    ($name:ident, $atomic:ident, $int:ty) => {
        pub(crate) struct $name {
            init: $int,
            cell: std::sync::OnceLock<$atomic>,
        }

        impl $name {
            pub(crate) const fn new(init: $int) -> Self {
                Self { init, cell: std::sync::OnceLock::new() }
            }
        }

        impl std::ops::Deref for $name {
            type Target = $atomic;
            fn deref(&self) -> &$atomic {
                self.cell.get_or_init(|| $atomic::new(self.init))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}
#[cfg(loom)]
const_atomic!(ConstAtomicU8, AtomicU8, u8);
#[cfg(loom)]
const_atomic!(ConstAtomicUsize, AtomicUsize, usize);

/// `true` when built for loom: locks park instead of spinning and clocks read as zero.
pub(crate) const LOOM: bool = cfg!(loom);
