//! How ONE thread blocks and is woken.
//!
//! Every sleeping thread owns a [`Parker`] inside its waiter node, on its own stack. The
//! parker is a 32-bit state word with three states:
//!
//! | state         | meaning                                                            |
//! |---------------|--------------------------------------------------------------------|
//! | `WAITING`     | asleep, or about to be; nobody has ended the sleep                 |
//! | `WOKEN`       | a waker took the node off its queue and is done with it: final     |
//! | `INTERRUPTED` | [`crate::interrupt`] ran on this thread (from a signal handler)    |
//!
//! Transitions: `WAITING -> INTERRUPTED` by the owning thread's signal handler (CAS, so it
//! never overrides a wake), `WAITING | INTERRUPTED -> WOKEN` by exactly one waker (swap,
//! Release: it publishes the token the waker wrote). After storing `WOKEN` the waker never
//! reads the node again; it may still issue a kernel wake on the word's address, which is
//! harmless if the sleeper has returned (a spurious wake that every futex user tolerates).
//!
//! The backend that blocks is chosen at build time: `futex.rs` on Linux (absolute deadlines
//! on either clock, `EINTR` reported), `fallback.rs` elsewhere (std park/unpark),
//! `loom.rs` under `--cfg loom`.

use crate::loom::{AtomicU32, Ordering};
use crate::time::Deadline;

#[cfg(all(target_os = "linux", not(loom), not(wchan_fallback_parker)))]
#[path = "futex.rs"]
mod sys;

#[cfg(all(not(loom), any(not(target_os = "linux"), wchan_fallback_parker)))]
#[path = "fallback.rs"]
mod sys;

#[cfg(loom)]
#[path = "loom.rs"]
mod sys;

const WAITING: u32 = 0;
const WOKEN: u32 = 1;
const INTERRUPTED: u32 = 2;

/// What one call to the backend's block reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// The word no longer held the expected value, or a wake arrived (maybe spuriously).
    Returned,
    /// The deadline passed.
    TimedOut,
    /// A signal handler ran while the thread was in the kernel (`EINTR`).
    #[cfg_attr(any(loom, wchan_fallback_parker, not(target_os = "linux")), allow(dead_code))]
    Signalled,
}

/// How a sleep on a parker ended, before the caller's cancel logic decides who wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    Woken,
    TimedOut,
    Interrupted,
}

/// One thread's sleep: a state word plus whatever handle the backend needs to wake it.
pub(crate) struct Parker {
    state: AtomicU32,
    handle: sys::Handle,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker { state: AtomicU32::new(WAITING), handle: sys::Handle::current() }
    }

    /// Blocks until woken, interrupted or past `deadline`; spurious returns of the backend are
    /// absorbed here. Called by the owning thread only.
    pub(crate) fn wait(&self, deadline: Option<&Deadline>) -> Wait {
        loop {
            // Acquire pairs with the waker's Release swap to WOKEN: the token is visible.
            match self.state.load(Ordering::Acquire) {
                WOKEN => return Wait::Woken,
                INTERRUPTED => return Wait::Interrupted,
                _ => {}
            }
            match sys::block(&self.state, WAITING, deadline, &self.handle) {
                Blocked::Returned => continue,
                Blocked::TimedOut => return Wait::TimedOut,
                Blocked::Signalled => return Wait::Interrupted,
            }
        }
    }

    /// Blocks until a waker that has already taken this node off its queue stores `WOKEN`.
    /// That waker is running, not sleeping, so this wait is short; it ignores deadlines and
    /// signals because the outcome (woken) is already decided.
    pub(crate) fn wait_for_wake(&self) {
        loop {
            // Acquire: as in `wait`.
            let state = self.state.load(Ordering::Acquire);
            if state == WOKEN {
                return;
            }
            sys::block(&self.state, state, None, &self.handle);
        }
    }

    /// Ends the current sleep with `Interrupted` unless a waker already won. Async-signal-safe:
    /// one compare-exchange on the owning thread's own word. Relaxed: the owning thread (the
    /// one running this handler) reads the word itself; no other memory is published.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn interrupt(&self) {
        let _ = self.state.compare_exchange(WAITING, INTERRUPTED, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Ends the owning thread's sleep as if woken, with no waker and no system call: for the
    /// child handler of `fork`, on the owning thread, whose queue was discarded. Relaxed: the
    /// same thread reads the word next.
    #[cfg(all(unix, not(loom), not(miri)))]
    pub(crate) fn wake_in_forked_child(&self) {
        self.state.store(WOKEN, Ordering::Relaxed);
    }

    /// The waker's side, taken while the node is still known to be alive (under the bucket
    /// lock or right after dequeuing it). The handle does not borrow the node.
    pub(crate) fn unparker(&self) -> Unparker {
        Unparker { word: &self.state, handle: self.handle.clone() }
    }
}

/// Wakes one parker. Holds the address of the parker's word, not a borrow: the owning thread
/// may return (and its node vanish) as soon as `WOKEN` is stored.
pub(crate) struct Unparker {
    word: *const AtomicU32,
    handle: sys::Handle,
}

impl Unparker {
    /// Stores `WOKEN` and wakes the thread.
    ///
    /// # Safety
    /// The parker must still be alive when this is called, which holds while its node is off
    /// the queue but not yet `WOKEN`: its owner cannot return before this store.
    pub(crate) unsafe fn unpark(self) {
        // SAFETY: the caller guarantees the word is alive until this store completes.
        // Release pairs with the sleeper's Acquire load: the token written before is visible.
        unsafe { (*self.word).swap(WOKEN, Ordering::Release) };
        // After the store the word may be gone; the backend only passes its address to the
        // kernel (or wakes a thread handle it owns), never dereferences it.
        sys::wake(self.word, &self.handle);
    }
}
