//! Portable backend: std's `thread::park` / `park_timeout`.
//!
//! Deadlines become relative timeouts recomputed after every return, so a realtime deadline
//! is re-measured against the wall clock at each wake but does not follow a clock change
//! while the thread is blocked. A signal handler cannot end the block early here;
//! [`crate::interrupt`] marks the word and the thread sees it at its next return.

use std::time::Duration;

use super::Blocked;
use crate::loom::{current_thread, AtomicU32, Ordering, Thread};
use crate::time::Deadline;

#[derive(Clone)]
pub(crate) struct Handle(Thread);

impl Handle {
    pub(crate) fn current() -> Handle {
        Handle(current_thread())
    }
}

pub(crate) fn block(word: &AtomicU32, expected: u32, deadline: Option<&Deadline>, _: &Handle) -> Blocked {
    // Relaxed: the caller re-reads the word with Acquire after we return.
    if word.load(Ordering::Relaxed) != expected {
        return Blocked::Returned;
    }
    match deadline {
        None => std::thread::park(),
        Some(d) => {
            let left = d.remaining();
            if left == Duration::ZERO {
                return Blocked::TimedOut;
            }
            std::thread::park_timeout(left);
        }
    }
    Blocked::Returned
}

pub(crate) fn wake(_: *const AtomicU32, _: u32, handle: &Handle) {
    handle.0.unpark();
}
