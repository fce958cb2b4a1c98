//! OpenBSD-style wait channels for userspace.
//!
//! A thread sleeps on any address (a *wait channel*); another wakes one, N or all of its
//! sleepers — what `__thrsleep(2)` and `__thrwakeup(2)` give OpenBSD's threads library:
//!
//! - [`Sleep`] / [`wakeup`]: the OpenBSD face, with a spinlock hand-off
//!   ([`Sleep::unlocking`]), an abort flag ([`Sleep::abort_if`], [`interrupt`]), absolute
//!   deadlines on a named clock ([`Deadline`]) and exact wake counts.
//! - [`park`]: the core for primitive builders (validate under the bucket lock, tokens,
//!   unpark one / N / all, requeue); `unsafe`, as parking_lot_core's is, because a forged
//!   wake could break a primitive that trusts its tokens.
//! - [`Mutex`], [`Condvar`], [`thread::sleep`]: primitives built on [`park`].
//!
//! With the cargo feature `tracing`, the sleep and wake paths emit debug-level `tracing`
//! events (targets `wchan::sleep`, `wchan::wakeup`, `wchan::thread`); without a subscriber
//! that enables them they cost a level check, and without the feature nothing at all.
//!
//! Everything lives in one global, statically allocated table of hashed wait queues; the
//! sleep and wake paths never allocate. Built with `RUSTFLAGS="--cfg loom"`, the crate's
//! atomics, locks and parker switch to loom's, so a loom model of your own primitive explores
//! wchan's internals too (see `docs/model-checking.md`).
//!
//! ```
//! use wchan::{wakeup, Sleep, SpinLock};
//! use std::sync::Arc;
//!
//! let lock = Arc::new(SpinLock::new(0u32));
//! let sleeper = {
//!     let lock = lock.clone();
//!     std::thread::spawn(move || {
//!         let mut n = lock.lock();
//!         *n = 1; // "I am going to sleep"
//!         // Queued before the guard is released: no wakeup can slip in between.
//!         Sleep::on(&*lock).unlocking(n).wait()
//!     })
//! };
//! loop {
//!     let n = lock.lock();
//!     if *n == 1 {
//!         // The sleeper set 1 and then slept in one step, as seen by anyone holding the lock.
//!         assert_eq!(wakeup(&*lock, 1), Ok(1));
//!         break;
//!     }
//! }
//! assert_eq!(sleeper.join().unwrap(), Ok(()));
//! ```
#![warn(missing_docs, unsafe_op_in_unsafe_fn)]

// wasm without an operating system (wasm32-unknown-unknown): std there has no clock
// (`Instant::now` panics, rust-lang/rust `library/std/src/sys/time/unsupported.rs`) and,
// without the `atomics` feature, no sleep (`thread::sleep` panics,
// `library/std/src/sys/thread/unsupported.rs`; nightly 2026-05-19), so no deadline could be
// measured; and libc has no errno values for `Error::errno`. Refused here, with the reason,
// as the build's only error: `src/error.rs` stands in for the missing errno names, which
// would otherwise add four unresolved-name errors after it (`.ci/platforms.sh` checks that
// this message is the only error).
#[cfg(all(target_family = "wasm", not(any(target_os = "wasi", target_os = "emscripten"))))]
compile_error!(
    "wchan does not support wasm without an operating system (wasm32-unknown-unknown): std \
     has no clock and no way to block there. Build for wasm32-wasip1 (one thread: a sleep \
     with a deadline sleeps until it) or wasm32-wasip1-threads (docs/platforms.md)."
);

mod chan;
mod cpus;
mod error;
#[cfg(all(unix, not(loom), not(miri)))]
mod fork;
#[cfg(not(loom))]
mod loom;
/// Built with `--cfg loom` only: the precise entry point for loom models
/// (`docs/model-checking.md`).
#[cfg(loom)]
pub mod loom;
mod outcome;
pub mod park;
mod parker;
mod spin;
pub mod sync;
mod table;
pub mod thread;
mod time;
#[cfg(feature = "tracing")]
mod trace;

pub use chan::{wakeup, Sleep};
pub use error::Error;
pub use park::interrupt;
pub use spin::{SpinGuard, SpinLock};
pub use sync::{Condvar, Mutex, MutexGuard, RawMutex, WaitTimeoutResult};
pub use time::{Clock, Deadline, Timespec};

/// The README's Rust examples, compiled and run by `cargo test` so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
