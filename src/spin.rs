//! `SpinLock`: the lock whose guard a [`crate::Sleep`] releases once the sleeper is queued.
//!
//! OpenBSD's `__thrsleep` takes a `_atomic_lock_t` that libpthread spins on with
//! `sched_yield`. Here the same role is played by a one-byte lock that spins with exponential
//! backoff (pause hints; yields on a one-CPU process), and then, rather than spinning forever, parks on the wait-channel
//! table until the holder releases it: it never burns a core while another thread holds it
//! for long. It is the same lock as [`crate::Mutex`] ([`crate::RawMutex`] underneath); the
//! name says what it is for in the OpenBSD-shaped interface.
//!
//! ```
//! use wchan::{wakeup, Sleep, SpinLock};
//!
//! static READY: SpinLock<bool> = SpinLock::new(false);
//! let t = std::thread::spawn(|| {
//!     let mut ready = READY.lock();
//!     while !*ready {
//!         // Queued first, then the guard is released: a wakeup after the release finds us.
//!         Sleep::on(&READY).unlocking(ready).wait().unwrap();
//!         ready = READY.lock();
//!     }
//! });
//! loop {
//!     let mut ready = READY.lock();
//!     *ready = true;
//!     // The sleeper may not have gone to sleep yet: then it sees `true` itself.
//!     if wakeup(&READY, 0).is_ok() || t.is_finished() { break; }
//!     drop(ready);
//!     std::thread::yield_now();
//! }
//! t.join().unwrap();
//! ```

/// A lock around a `T` whose guard can be handed to [`crate::Sleep::unlocking`]:
/// `const fn new`, `lock`, `try_lock`, `is_locked`, guard derefs to `T`.
pub type SpinLock<T> = lock_api::Mutex<crate::RawMutex, T>;

/// The guard of a [`SpinLock`]; unlocks on drop.
pub type SpinGuard<'a, T> = lock_api::MutexGuard<'a, crate::RawMutex, T>;
