//! WebAssembly without threads (wasm32-wasip1 and the like): one thread, nobody to wake it.
//!
//! Without the `atomics` target feature a wasm program has a single thread, so no waker can
//! ever run while it sleeps (std's `thread::park` returns at once there, which would make
//! every wait a busy loop). A sleep with a deadline therefore sleeps (`std::thread::sleep`,
//! WASI's `poll_oneoff`) until the deadline and times out, and a sleep without one can never
//! end: it blocks in one-day sleeps forever, the single-threaded image of a deadlock, never a
//! busy loop. A wake finds nobody. With the `atomics` feature (wasm32-wasip1-threads) the
//! portable backend is used instead, on std's futex-based park.

use std::time::Duration;

use super::Blocked;
use crate::loom::{AtomicU32, Ordering};
use crate::time::Deadline;

const LONGEST_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

pub(crate) use super::AddressOnly as Handle;

pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, _: &Handle) -> Blocked {
    // Relaxed: single-threaded; the caller re-reads the word with Acquire anyway.
    if word.load(Ordering::Relaxed) != expected {
        return Blocked::Returned;
    }
    match deadline {
        None => std::thread::sleep(LONGEST_WAIT),
        Some(d) => {
            let left = d.remaining();
            if left.is_zero() {
                return Blocked::TimedOut;
            }
            std::thread::sleep(left.min(LONGEST_WAIT));
        }
    }
    Blocked::Returned
}

pub(crate) fn wake(_: *const AtomicU32, _: u32, _: &Handle) {}
