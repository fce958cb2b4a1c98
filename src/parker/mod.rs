//! How ONE thread blocks and is woken.
//!
//! Every sleeping thread owns a [`Parker`] inside its waiter node, on its own stack. The
//! parker is a 32-bit state word:
//!
//! | state             | meaning                                                          |
//! |-------------------|------------------------------------------------------------------|
//! | `WAITING`         | queued and running: nobody has ended the sleep or need wake it   |
//! | `SLEEPING`        | blocked in the kernel (or about to be): a waker must wake it     |
//! | `SLEEPING_SHARED` | the same, in a shared (not private) futex wait (Linux only)      |
//! | `WOKEN`           | a waker took the node off its queue and is done with it: final   |
//! | `INTERRUPTED`     | [`crate::interrupt`] ran on this thread (from a signal handler)  |
//!
//! Transitions: `WAITING -> SLEEPING*` by the owner just before it blocks (CAS, so it never
//! overrides a wake or an interrupt), `WAITING | SLEEPING* -> INTERRUPTED` by the owning
//! thread's signal handler (CAS), any state but `WOKEN` `-> WOKEN` by exactly one waker (swap,
//! Release: it publishes the token the waker wrote). The waker makes a kernel wake call only
//! if the swap replaced a `SLEEPING*` state, the one the sleeper blocks on: a thread that had
//! not blocked yet sees `WOKEN` when it tries to, so a wake that wins the race costs no
//! system call. After its swap the waker never reads the node again; the kernel wake it may
//! still issue only names the word's address, harmless if the sleeper has returned (a
//! spurious wake that every futex user tolerates).
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

mod adaptive;

const WAITING: u32 = 0;
const WOKEN: u32 = 1;
const INTERRUPTED: u32 = 2;
/// Blocked in the kernel; on Linux, in a private futex wait.
const SLEEPING: u32 = 3;
/// Blocked in a shared futex wait (Linux only: see `futex.rs`, "Private or shared").
#[cfg_attr(not(all(not(loom), not(wchan_fallback_parker), target_os = "linux")), allow(dead_code))]
const SLEEPING_SHARED: u32 = 4;

/// The state a thread blocks in: `SLEEPING` or, on Linux when many threads sleep,
/// `SLEEPING_SHARED`; [`end_sleep`] is called once the block is over.
#[cfg(all(not(loom), not(wchan_fallback_parker), target_os = "linux"))]
use sys::{begin_sleep, end_sleep};

#[cfg(not(all(not(loom), not(wchan_fallback_parker), target_os = "linux")))]
fn begin_sleep() -> u32 {
    SLEEPING
}

#[cfg(not(all(not(loom), not(wchan_fallback_parker), target_os = "linux")))]
fn end_sleep(_: u32) {}

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

/// In a forked child: forgets the parent's other sleeping threads, which the backend may
/// count (Linux: the private futex waits, `futex.rs`); they do not exist in the child.
#[cfg(all(unix, not(loom), not(miri)))]
pub(crate) fn forget_sleepers_after_fork() {
    #[cfg(all(not(wchan_fallback_parker), target_os = "linux"))]
    sys::forget_sleepers_after_fork();
}

/// The handle of a backend that needs nothing beyond the word's address to wake a thread
/// (futex, umtx, OpenBSD futex, `WaitOnAddress`, threadless wasm): there is nothing to keep.
#[derive(Clone)]
#[allow(dead_code)] // unused where the backend keeps a thread handle (portable, Apple, loom)
pub(crate) struct AddressOnly;

#[allow(dead_code)] // as above
impl AddressOnly {
    pub(crate) fn current() -> AddressOnly {
        AddressOnly
    }
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
    pub(crate) fn wait(&self, deadline: Option<&Deadline>, spin: bool) -> Wait {
        if spin {
            // Relaxed: only a hint to stop spinning; the outcome is read with Acquire below.
            adaptive::spin(|| self.state.load(Ordering::Relaxed) != WAITING);
        }
        // Woken or interrupted already (the waker came between the enqueue and now): return
        // without touching the private-sleeper count, two read-modify-writes of a shared line.
        // Acquire: as in `block_until_woken`, pairs with the waker's Release swap.
        match self.state.load(Ordering::Acquire) {
            WOKEN => return Wait::Woken,
            INTERRUPTED => return Wait::Interrupted,
            _ => {}
        }
        let asleep = begin_sleep();
        let result = self.block_until_woken(asleep, deadline);
        end_sleep(asleep);
        result
    }

    /// [`Parker::wait`], blocking in state `asleep`.
    fn block_until_woken(&self, asleep: u32, deadline: Option<&Deadline>) -> Wait {
        #[cfg(wchan_bug = "block_unannounced")] // deliberate bug for loom-tests: no wake call is made
        let asleep = {
            let _chosen = asleep; // replaced, not forgotten: keeps the bug build free of warnings
            WAITING
        };
        loop {
            // Acquire pairs with the waker's Release swap to WOKEN: the token is visible.
            match self.state.load(Ordering::Acquire) {
                WOKEN => return Wait::Woken,
                INTERRUPTED => return Wait::Interrupted,
                // Announce the block, so a waker knows to make the kernel wake call. Relaxed:
                // a failure re-reads the word above with Acquire.
                WAITING
                    if self.state.compare_exchange(WAITING, asleep, Ordering::Relaxed, Ordering::Relaxed).is_err() =>
                {
                    continue;
                }
                // `asleep`: announced by the exchange just above, or before a spurious return.
                _ => {}
            }
            match sys::block(&self.state, asleep, deadline, &self.handle) {
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
        let asleep = begin_sleep();
        loop {
            // Acquire: as in `wait`.
            let state = self.state.load(Ordering::Acquire);
            if state == WOKEN {
                break;
            }
            // From WAITING or INTERRUPTED (the outcome is decided: woken), announce the block
            // as `wait` does, or the waker would make no wake call.
            if state != asleep
                && self.state.compare_exchange(state, asleep, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                continue;
            }
            sys::block(&self.state, asleep, None, &self.handle);
        }
        end_sleep(asleep);
    }

    /// Ends the current sleep with `Interrupted` unless a waker already won. Async-signal-safe:
    /// a load and compare-exchanges on the owning thread's own word (it retries only if a
    /// waker's swap lands in between, and then stops at `WOKEN`). Relaxed: the owning thread
    /// (the one running this handler) reads the word itself; no other memory is published.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn interrupt(&self) {
        let mut state = self.state.load(Ordering::Relaxed);
        while matches!(state, WAITING | SLEEPING | SLEEPING_SHARED) {
            match self.state.compare_exchange(state, INTERRUPTED, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
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
        let was = unsafe { (*self.word).swap(WOKEN, Ordering::Release) };
        if was == SLEEPING || was == SLEEPING_SHARED {
            // After the swap the word may be gone; the backend only passes its address to the
            // kernel (or wakes a thread handle it owns), never dereferences it.
            sys::wake(self.word, was, &self.handle);
        }
        // Otherwise the sleeper had not blocked: its announcing CAS fails on WOKEN.
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
