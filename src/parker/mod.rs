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
//! The backend that blocks is chosen at build time; each native one waits on this word
//! itself, so a change of the word (a wake, or `interrupt()` from a signal handler) ends the
//! block:
//!
//! | target                         | file          | kernel wait                                   |
//! |--------------------------------|---------------|-----------------------------------------------|
//! | Linux                          | `futex.rs`    | `FUTEX_WAIT_BITSET`, absolute, either clock   |
//! | FreeBSD                        | `umtx.rs`     | `_umtx_op(UMTX_OP_WAIT_UINT_PRIVATE)`, absolute |
//! | macOS, iOS (14.4 / 17.4 on)    | `apple.rs`    | `os_sync_wait_on_address_with_deadline`       |
//! | Windows                        | `windows.rs`  | `WaitOnAddress`, relative, recomputed         |
//! | OpenBSD                        | `openbsd.rs`  | `futex(2)` `FUTEX_WAIT`, relative, recomputed |
//! | wasm without threads           | `wasm.rs`     | none: one thread, sleeps until the deadline   |
//! | anything else, older Apple OSes, `--cfg wchan_fallback_parker` | `fallback.rs` | std's `park_timeout` (no kernel wait on the word) |
//! | `--cfg loom`                   | `loom.rs`     | loom's park                                   |
//!
//! `docs/platforms.md` says which guarantee holds on which and how each is checked.

use crate::loom::{AtomicU32, Ordering};
use crate::time::Deadline;

#[cfg(all(not(loom), not(wchan_fallback_parker), target_os = "linux"))]
#[path = "futex.rs"]
mod sys;

#[cfg(all(not(loom), not(wchan_fallback_parker), target_os = "freebsd"))]
#[path = "umtx.rs"]
mod sys;

#[cfg(all(not(loom), not(wchan_fallback_parker), target_vendor = "apple"))]
#[path = "apple.rs"]
mod sys;

#[cfg(all(not(loom), not(wchan_fallback_parker), windows))]
#[path = "windows.rs"]
mod sys;

#[cfg(all(not(loom), not(wchan_fallback_parker), target_os = "openbsd"))]
#[path = "openbsd.rs"]
mod sys;

#[cfg(all(not(loom), not(wchan_fallback_parker), target_family = "wasm", not(target_feature = "atomics")))]
#[path = "wasm.rs"]
mod sys;

#[cfg(all(
    not(loom),
    any(
        wchan_fallback_parker,
        not(any(
            target_os = "linux",
            target_os = "freebsd",
            target_vendor = "apple",
            windows,
            target_os = "openbsd",
            all(target_family = "wasm", not(target_feature = "atomics"))
        ))
    )
))]
#[path = "fallback.rs"]
mod sys;

/// The Apple backend falls back to the portable one on releases without `os_sync`.
#[cfg(all(not(loom), not(wchan_fallback_parker), target_vendor = "apple"))]
mod fallback;

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
    #[cfg_attr(
        any(
            loom,
            wchan_fallback_parker,
            not(any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd"))
        ),
        allow(dead_code)
    )]
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

/// A kernel wait failed in a way it cannot for a live word and a valid timeout. Returning
/// would either busy-loop (as a spurious return) or end a sleep early (as a timeout), and
/// unwinding is not possible while this thread's waiter node is queued on its stack: abort.
#[cfg(not(loom))]
#[cold]
#[allow(dead_code)] // the portable and wasm backends have no kernel wait that can fail
fn unexpected_error(what: &str, errno: Option<i32>) -> ! {
    use std::io::Write;
    // Unbuffered stderr and digits on the stack: no allocation.
    let mut digits = [0u8; 12];
    let mut at = digits.len();
    let mut n = errno.unwrap_or(0).unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut err = std::io::stderr();
    let _ = err.write_all(b"wchan: ");
    let _ = err.write_all(what.as_bytes());
    let _ = err.write_all(b" failed with error ");
    let _ = err.write_all(&digits[at..]);
    let _ = err.write_all(b", which it cannot give for a live word and a valid timeout (a wchan bug); aborting\n");
    std::process::abort()
}
