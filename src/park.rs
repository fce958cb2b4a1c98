//! The core for primitive builders: park a thread on a key, unpark one, N or all, requeue.
//!
//! A *key* is a `usize`, normally the address of the atomic your primitive keeps its state
//! in. Parking follows one protocol, the one every futex-style primitive uses:
//!
//! 1. The parker publishes "I am about to sleep" in its own state (a bit, a counter).
//! 2. [`park`] locks the key's bucket and runs `validate`; if the state still says "sleep",
//!    the thread is queued, the lock released, `before_sleep` runs, and the thread blocks.
//! 3. The waker changes the state, then calls an unpark function, which takes the same lock.
//!
//! Because `validate` and every unpark run under the bucket lock, a wakeup cannot fall
//! between the check and the sleep.
//!
//! # What runs under the bucket lock
//!
//! | callback | lock held | may | must not |
//! |---|---|---|---|
//! | `validate` (park, requeue) | yes | read and write atomics | park, unpark or otherwise call into wchan (deadlock); block |
//! | `before_sleep` | **no** | release user locks (a `SpinGuard`), call `unpark*` | park |
//! | `on_cancel(key, was_last)` | yes | fix up state bits, e.g. clear a "parked" bit when `was_last` | call into wchan; block |
//! | unpark `callback(result)` | yes | update state with what was found | call into wchan; block |
//!
//! A panic in any callback propagates to the caller and leaves the table consistent: the
//! callbacks run before or after a queue changes, never in the middle, and a `park` whose
//! `before_sleep` panics takes its node off the queue before unwinding.
//!
//! # Cost
//!
//! No heap allocation anywhere. [`unpark_n`] and [`unpark_all`] on a key whose bucket holds no
//! sleeper take no lock and make no syscall (a fence and a load). No lock is held while a
//! thread sleeps; the kernel wake happens after the bucket lock is released.
//!
//! # Example: a one-shot event
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use wchan::park::{self, ParkOptions};
//!
//! struct Event(AtomicBool);
//! impl Event {
//!     fn wait(&self) {
//!         let key = &self.0 as *const AtomicBool as usize;
//!         while !self.0.load(Ordering::Acquire) {
//!             // Sleep only if the event is still unset under the bucket lock.
//!             park::park(key, ParkOptions::new(), || !self.0.load(Ordering::Acquire), || {}, |_, _| {});
//!         }
//!     }
//!     fn set(&self) {
//!         self.0.store(true, Ordering::Release);
//!         park::unpark_all(&self.0 as *const AtomicBool as usize, park::DEFAULT_UNPARK_TOKEN);
//!     }
//! }
//!
//! let ev = std::sync::Arc::new(Event(AtomicBool::new(false)));
//! let t = { let ev = ev.clone(); std::thread::spawn(move || ev.wait()) };
//! ev.set();
//! t.join().unwrap();
//! ```

#[cfg(not(loom))]
use std::cell::Cell;

use crate::loom::{AtomicBool, Ordering};
use crate::parker::{Parker, Wait};
use crate::table::{self, Waiter};
use crate::time::Deadline;

/// A value a waker hands to the thread it wakes (e.g. "the lock is yours now").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UnparkToken(pub usize);

/// The token [`unpark_n`], [`unpark_all`] and a callback that has nothing to say hand over.
pub const DEFAULT_UNPARK_TOKEN: UnparkToken = UnparkToken(0);

/// How a [`park`] call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParkResult {
    /// A waker took the thread off the queue and passed this token. Wins over a deadline or
    /// an abort that happened at the same time.
    Unparked(UnparkToken),
    /// `validate` returned false; the thread never slept.
    Invalid,
    /// The deadline passed first (or had passed already: then nothing ran, not even
    /// `validate`).
    TimedOut,
    /// The abort flag was set when checked, [`crate::interrupt`] was called from a signal
    /// handler on this thread, or a signal handler ran while the thread was blocked.
    Interrupted,
}

impl ParkResult {
    /// Whether a waker woke the thread.
    pub fn is_unparked(self) -> bool {
        matches!(self, ParkResult::Unparked(_))
    }
}

/// What an unpark or requeue did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnparkResult {
    /// Threads taken off the queue; each of their `park` calls returns `Unparked`.
    pub unparked: usize,
    /// Threads moved to the other key by a requeue (they stay asleep).
    pub requeued: usize,
    /// Whether threads remain queued on the key after this call.
    pub have_more: bool,
    /// Whether the woken thread has been queued for a millisecond or more: a fair lock should
    /// hand it the lock directly (never true under loom, which has no clock).
    pub be_fair: bool,
}

/// What [`unpark_requeue`] should do, decided by its `validate` callback under the locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequeueOp {
    /// Do nothing.
    Abort,
    /// Wake the oldest waiter of the source key and leave the rest.
    UnparkOne,
    /// Wake the oldest waiter and move every other one to the target key.
    UnparkOneRequeueRest,
    /// Move every waiter to the target key without waking any.
    RequeueAll,
    /// Move the oldest waiter to the target key without waking it.
    RequeueOne,
}

/// When and whether a [`park`] gives up on its own.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParkOptions<'a> {
    /// Give up with `TimedOut` when this absolute deadline passes.
    pub deadline: Option<Deadline>,
    /// Give up with `Interrupted` if this flag is set when checked: once, after the thread is
    /// queued and `before_sleep` has run, just before it blocks (OpenBSD's order). Under loom
    /// this is loom's `AtomicBool`.
    pub abort: Option<&'a AtomicBool>,
}

impl<'a> ParkOptions<'a> {
    /// No deadline, no abort flag.
    pub const fn new() -> Self {
        ParkOptions { deadline: None, abort: None }
    }

    /// Sets the deadline.
    pub fn deadline(mut self, deadline: impl Into<Option<Deadline>>) -> Self {
        self.deadline = deadline.into();
        self
    }

    /// Sets the abort flag.
    pub fn abort_if(mut self, flag: &'a AtomicBool) -> Self {
        self.abort = Some(flag);
        self
    }
}

/// Parks the calling thread on `key` until an unpark of `key` takes it off the queue, its
/// deadline passes or it is interrupted.
///
/// The steps, in order:
/// 1. a deadline that has already passed returns `TimedOut` (no callback runs);
/// 2. under the bucket lock, `validate()`; false returns `Invalid`;
/// 3. the thread is queued and the lock released; `before_sleep()` runs (no lock held);
/// 4. the abort flag, if any, is read: set means `Interrupted`;
/// 5. the thread blocks.
///
/// If the thread gives up (timeout, abort, signal) while still queued, it takes itself off
/// the queue and runs `on_cancel(key, was_last)` under the lock, `was_last` telling whether
/// no other thread remains queued on the key. If a waker dequeued it first, the waker wins:
/// `park` returns `Unparked` and `on_cancel` does not run, so a waker's count is exact.
///
/// See the [module documentation](self) for what the callbacks may do.
pub fn park(
    key: usize,
    options: ParkOptions<'_>,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    on_cancel: impl FnOnce(usize, bool),
) -> ParkResult {
    let deadline = options.deadline.as_ref();
    if deadline.is_some_and(Deadline::has_passed) {
        return ParkResult::TimedOut;
    }
    let waiter = Waiter::new(key);
    if !table::enqueue_if(&waiter, validate) {
        return ParkResult::Invalid;
    }
    // From here the node is reachable by wakers: it must be off the queue before this frame
    // ends, even if `before_sleep` unwinds.
    let unwind = CancelOnUnwind(&waiter);
    let _sleeping = Sleeping::enter(&waiter.parker);
    before_sleep();
    std::mem::forget(unwind);

    // Relaxed: the flag carries no data; the SeqCst fences of enqueue and of `unpark_n`
    // order it against a waker's "set flag, then wake" (invariant: abort is never missed).
    #[cfg(wchan_bug = "skip_abort_check")] // deliberate bug for loom-tests: the flag is never read
    let options = ParkOptions { abort: None, ..options };
    let aborted = options.abort.is_some_and(|flag| flag.load(Ordering::Relaxed));
    let gave_up = if aborted {
        ParkResult::Interrupted
    } else {
        match waiter.parker.wait(deadline) {
            Wait::Woken => return ParkResult::Unparked(UnparkToken(waiter.token())),
            Wait::TimedOut => ParkResult::TimedOut,
            Wait::Interrupted => ParkResult::Interrupted,
        }
    };
    if table::cancel(&waiter, on_cancel) {
        return gave_up;
    }
    // A waker dequeued us before we could: woken wins.
    waiter.parker.wait_for_wake();
    #[cfg(wchan_bug = "timeout_ignores_dequeue")] // deliberate bug for loom-tests: the waker's count is off
    if !gave_up.is_unparked() {
        return gave_up;
    }
    ParkResult::Unparked(UnparkToken(waiter.token()))
}

/// Takes a queued node off its queue if `before_sleep` panics.
struct CancelOnUnwind<'a>(&'a Waiter);

impl Drop for CancelOnUnwind<'_> {
    fn drop(&mut self) {
        if !table::cancel(self.0, |_, _| {}) {
            self.0.parker.wait_for_wake();
        }
    }
}

#[cfg(not(loom))]
thread_local! {
    /// The parker of this thread's sleep in progress, for [`interrupt`]. Const-initialized and
    /// without a destructor, so reading it is a plain TLS access: async-signal-safe.
    static SLEEPING: Cell<*const Parker> = const { Cell::new(std::ptr::null()) };
}

/// Publishes the current sleep's parker to [`interrupt`] and restores the previous one (a
/// signal handler may itself sleep) when the sleep ends.
struct Sleeping(#[allow(dead_code)] *const Parker);

impl Sleeping {
    #[cfg(not(loom))]
    fn enter(p: &Parker) -> Sleeping {
        let prev = SLEEPING.with(|s| s.replace(p));
        // The abort flag is read after this store; a signal handler on this thread must see
        // the pointer whenever it runs after that read (same thread: a compiler fence).
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
        Sleeping(prev)
    }

    #[cfg(loom)]
    fn enter(_: &Parker) -> Sleeping {
        Sleeping(std::ptr::null())
    }
}

impl Drop for Sleeping {
    fn drop(&mut self) {
        #[cfg(not(loom))]
        SLEEPING.with(|s| s.set(self.0));
    }
}

/// Ends the calling thread's wchan sleep in progress with `Interrupted`, unless a waker has
/// already taken it off its queue. **Async-signal-safe**: meant to be called from a signal
/// handler, after the handler has set the abort flag the sleep was given.
///
/// Together, the flag and this call close the race OpenBSD's kernel closes for
/// `__thrsleep`'s abort pointer: a signal that lands before the flag check is seen by the
/// check; one that lands after it (even just before the thread enters the kernel) makes the
/// kernel wait return at once; one that lands while the thread is blocked ends the block as
/// well, even if the handler was installed with `SA_RESTART`. Outside a sleep it does nothing.
///
/// On targets without futexes (the portable parker) the sleep notices the interrupt at its
/// next wake or deadline; under loom it does nothing.
pub fn interrupt() {
    #[cfg(not(loom))]
    {
        let _ = SLEEPING.try_with(|s| {
            // SAFETY: the pointer is set only while the sleep that owns the parker is in
            // progress on this thread, and this handler runs on that same thread, nested in it.
            if let Some(p) = unsafe { s.get().as_ref() } {
                p.interrupt();
            }
        });
    }
}

/// Wakes the oldest thread parked on `key`, if any. `callback` runs under the bucket lock with
/// what was found (`unparked` 0 or 1, `have_more`, `be_fair`) before anything changes, and
/// returns the token the woken thread receives. Always takes the bucket lock, so the callback
/// is ordered against every `validate`.
pub fn unpark_one(key: usize, callback: impl FnOnce(UnparkResult) -> UnparkToken) -> UnparkResult {
    table::unpark(key, 1, |found| callback(found).0)
}

/// Wakes up to `n` threads parked on `key`, oldest first, each with `token`; returns how many
/// it woke. `n == 0` wakes none. Without a callback it needs no lock when `key`'s bucket
/// holds no sleeper: a SeqCst fence and a load. A thread that queued before any write this
/// thread made before the call (to a flag the sleeper checks after queuing, say) is seen.
#[inline]
pub fn unpark_n(key: usize, n: usize, token: UnparkToken) -> usize {
    if n == 0 || !table::has_sleepers(key) {
        return 0;
    }
    table::unpark(key, n, |_| token.0).unparked
}

/// Wakes every thread parked on `key` with `token`; returns how many. See [`unpark_n`].
pub fn unpark_all(key: usize, token: UnparkToken) -> usize {
    unpark_n(key, usize::MAX, token)
}

/// Moves the threads parked on `from` to `to`, waking the oldest first if asked. `validate`
/// runs under both buckets' locks and chooses the operation; `callback` then runs, still
/// under the locks, with what will be done, and returns the woken thread's token. Moved
/// threads stay asleep; their `park` returns when an unpark of `to` reaches them.
pub fn unpark_requeue(
    from: usize,
    to: usize,
    validate: impl FnOnce() -> RequeueOp,
    callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
) -> UnparkResult {
    table::requeue(from, to, validate, |op, found| callback(op, found).0)
}

/// The table bucket a key hashes to; two keys with the same index share a lock and a list.
/// Exposed so tests and models can pick colliding keys.
#[doc(hidden)]
pub fn bucket_index(key: usize) -> usize {
    table::bucket_index(key)
}

/// The number of buckets in the table (2 under loom).
#[doc(hidden)]
pub const BUCKETS: usize = table::BUCKETS;
