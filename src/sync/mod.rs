//! Primitives built on [`crate::park`]: [`RawMutex`] (and the lock_api [`Mutex`] over it) and
//! [`Condvar`].
//!
//! They are built on the same core as [`crate::park`] (park with validate, unpark with a
//! token, requeue), so they double as worked examples of a primitive on wchan, with one
//! difference: they park in a key space of their own that no public function can name.
//! Neither [`crate::wakeup`] nor the `unsafe` park API can reach their queues or hand their
//! waiters a token, whatever address it is given (`docs/design.md`, "Key spaces").

mod condvar;
mod mutex;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard, RawMutex};

use crate::table::{Key, Space};

/// The key of an internal primitive at `addr`.
pub(crate) fn internal_key<T>(addr: &T) -> Key {
    internal_key_at(addr as *const T as usize)
}

/// [`internal_key`] from a bare address, for an object that may no longer exist.
pub(crate) fn internal_key_at(addr: usize) -> Key {
    Key::new(addr, Space::Internal)
}
