//! Fork safety: what a child created by `fork(2)` inherits from wchan, and how it is made
//! whole.
//!
//! A child starts with one thread, the one that called `fork`, and a copy of the parent's
//! memory. Left alone, wchan's table would hold the parent's sleepers (nodes on the stacks of
//! threads that do not exist in the child, stacks the child's next threads may reuse) and any
//! bucket lock that another parent thread held at that instant, held forever. So wchan
//! registers a `pthread_atfork` *child* handler that, before `fork` returns in the child:
//!
//! 1. replaces every bucket with a fresh, unlocked, empty one (counts zero);
//! 2. if the forking thread itself is inside a wchan sleep (it forked from a `before_sleep`
//!    callback, the only place a sleeper runs user code while queued), ends that sleep as a
//!    spurious wake: its node was in the discarded table, so nothing else could ever end it.
//!
//! No *prepare* handler: nothing of the parent's table is worth keeping in the child, so there
//! is no snapshot to make consistent, and the parent's other threads are never stopped by a
//! fork. What a child may rely on is listed in `docs/reliability.md` ("Fork").
//!
//! Registration is lazy, on the first bucket lock of the process, so a program that never
//! sleeps pays nothing. It completes before that lock is taken, so no sleeper or held bucket
//! lock can exist in a process without the handler: a thread that finds registration in
//! progress in its own process waits for it (microseconds); a child forked in the middle of
//! the parent's registration sees another process's id in the state word and registers for
//! itself.

use std::sync::atomic::{AtomicI32, Ordering};

/// 0: not registered; `DONE`: registered; any other value: the pid of the process whose
/// thread is registering right now.
static STATE: AtomicI32 = AtomicI32::new(0);
const DONE: i32 = -1;

/// Makes sure the child handler is registered in this process. One load when it is.
#[inline]
pub(crate) fn ensure_handler() {
    // Acquire: pairs with the Release store of DONE, so a thread that sees DONE also sees
    // every effect of the registration (pthread_atfork's own locking orders it for fork).
    if STATE.load(Ordering::Acquire) != DONE {
        register();
    }
}

#[cold]
fn register() {
    // SAFETY: getpid has no preconditions and cannot fail.
    let me = unsafe { libc::getpid() };
    loop {
        let state = STATE.load(Ordering::Acquire);
        if state == DONE {
            return;
        }
        if state == me {
            // Another thread of this process is registering: it takes microseconds.
            std::thread::yield_now();
            continue;
        }
        // 0, or a pid inherited from a parent that forked mid-registration: ours to do.
        // Relaxed: the winner publishes with the Release store of DONE below.
        if STATE.compare_exchange(state, me, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            // SAFETY: `in_child` is an `extern "C" fn()` that stays valid for the life of the
            // process (it is in this binary). A handler registered twice (the parent's call
            // completed but its DONE store did not before a fork) only resets twice.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
            // ENOMEM is the only documented failure; without the handler a child that
            // inherits sleepers could crash, so refuse to go on silently.
            assert_eq!(rc, 0, "wchan: pthread_atfork failed; cannot make the table fork-safe");
            STATE.store(DONE, Ordering::Release);
            return;
        }
    }
}

/// The child handler: runs in the child, on its only thread, before `fork` returns there.
extern "C" fn in_child() {
    // SAFETY: we are the only thread of the child, and no reference into the table is live
    // on this thread unless it forked from inside a callback that runs under a bucket lock,
    // which the park API's contract and the docs forbid (`docs/reliability.md`, "Fork").
    unsafe { crate::table::reset_in_forked_child() };
    crate::park::end_own_sleep_after_fork();
    crate::parker::forget_sleepers_after_fork();
}
