//! Primitives built on [`crate::park`]: [`RawMutex`] (and the lock_api [`Mutex`] over it) and
//! [`Condvar`].
//!
//! They use only the public `park` API, so they double as worked examples of building a
//! primitive on wchan. Their table keys are their own addresses with the top bit set, a
//! range no user-space address falls in on 64-bit targets, so a user who sleeps on the
//! address of a lock (`Sleep::on(&lock)`) never shares a queue with the lock's own waiters.

mod condvar;
mod mutex;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard, RawMutex};

/// Key of an internal primitive at `addr`: see the module docs.
pub(crate) fn internal_key<T>(addr: &T) -> usize {
    internal_key_at(addr as *const T as usize)
}

/// [`internal_key`] from a bare address, for an object that may no longer exist.
pub(crate) fn internal_key_at(addr: usize) -> usize {
    addr | (1 << (usize::BITS - 1))
}
