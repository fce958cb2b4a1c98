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
//! # Why these functions are `unsafe`
//!
//! A primitive built here usually trusts what reaches its key: a lock whose unlock hands the
//! lock to the thread it wakes (a token meaning "you own it now") relies on nobody else
//! unparking its waiters or passing them tokens. If these functions were safe, any safe code
//! could forge such a wake and break that primitive's exclusion. So, as in parking_lot_core,
//! each one is `unsafe` with one contract:
//!
//! **`key` (and a requeue's `to`) must be the address of an object your primitive owns, and
//! every park and unpark on it must follow that primitive's protocol.** The callbacks must
//! not call into wchan (the bucket lock is held; doing so deadlocks) and must not unwind
//! across a state change they have half made.
//!
//! Calling them from safe code does not compile:
//!
//! ```compile_fail,E0133
//! // A forged wake of someone else's key, with a forged "you own the lock" token.
//! wchan::park::unpark_one(0x1000, |_| wchan::park::UnparkToken(1));
//! ```
//!
//! Keys here live in their own *space*: they never share a queue with a [`crate::Sleep`] /
//! [`crate::wakeup`] channel (which stays safe: it carries no token, and a stray wakeup is a
//! spurious wake its users already tolerate), nor with wchan's own [`crate::Mutex`],
//! [`crate::Condvar`] or [`crate::thread::sleep`], which park in a third space that no public
//! function can name. So even a broken contract here cannot reach those. `docs/design.md`
//! ("Key spaces") records the decision.
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
//! `before_sleep` panics takes its node off the queue, running `on_cancel` as for any other
//! give-up, before unwinding. (An `on_cancel` that itself panics then is a panic during a
//! panic: Rust aborts the process.)
//!
//! # Cost
//!
//! No heap allocation on the park or unpark paths (the portable parker, used where the OS has
//! no wait-on-address call, clones std's `Thread` handle, which allocates once per thread
//! the first time a thread that std did not spawn is named). [`unpark_n`] and [`unpark_all`] on a key whose bucket holds no
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
//!             // SAFETY: `key` is this event's own address and every park/unpark on it is here.
//!             unsafe {
//!                 park::park(key, ParkOptions::new(), || !self.0.load(Ordering::Acquire), || {}, |_, _| {});
//!             }
//!         }
//!     }
//!     fn set(&self) {
//!         self.0.store(true, Ordering::Release);
//!         // SAFETY: as in `wait`.
//!         unsafe { park::unpark_all(&self.0 as *const AtomicBool as usize, park::DEFAULT_UNPARK_TOKEN) };
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
use crate::table::{self, Key, Space, Waiter};
use crate::time::Deadline;

pub use crate::outcome::{RequeueOp, UnparkResult, UnparkToken, DEFAULT_UNPARK_TOKEN};

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
/// If the thread gives up (timeout, abort, signal, or a panic in `before_sleep`) while still
/// queued, it takes itself off the queue and runs `on_cancel(key, was_last)` under the lock,
/// `was_last` telling whether no other thread remains queued on the key; then a panic goes on
/// unwinding. If a waker dequeued it first, the waker wins: `park` returns `Unparked` (or the
/// panic unwinds) and `on_cancel` does not run, so a waker's count is exact. `key` in
/// `on_cancel` is where the thread was queued last: `to` if a requeue moved it.
///
/// See the [module documentation](self) for what the callbacks may do.
///
/// # Safety
///
/// `key` is the address of an object the caller's primitive owns, parked and unparked only
/// by that primitive's protocol (see [the module docs](self#why-these-functions-are-unsafe)).
pub unsafe fn park(
    key: usize,
    options: ParkOptions<'_>,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    on_cancel: impl FnOnce(usize, bool),
) -> ParkResult {
    park_on(Key::new(key, Space::Park), options, |_| validate(), before_sleep, on_cancel)
}

/// [`park`] on a key of any space. `validate(others_waiting)` also learns whether another
/// thread is queued on the key, so a primitive can tell stale state (left, say, in a forked
/// child) from live waiters.
pub(crate) fn park_on(
    key: Key,
    options: ParkOptions<'_>,
    validate: impl FnOnce(bool) -> bool,
    before_sleep: impl FnOnce(),
    on_cancel: impl FnOnce(usize, bool),
) -> ParkResult {
    park_spinning_on(key, options, false, validate, before_sleep, on_cancel)
}

/// [`park_on`]; `spin`: spin briefly before blocking, adaptively (`parker/adaptive.rs`), for
/// waits whose wake usually comes soon from another running thread (a condvar's).
pub(crate) fn park_spinning_on(
    key: Key,
    options: ParkOptions<'_>,
    spin: bool,
    validate: impl FnOnce(bool) -> bool,
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
    // ends, even if `before_sleep` unwinds; then `on_cancel` runs as for any other give-up.
    let mut on_cancel = Some(on_cancel);
    let unwind = CancelOnUnwind { waiter: &waiter, on_cancel: &mut on_cancel };
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
        match waiter.parker.wait(deadline, spin) {
            Wait::Woken => return ParkResult::Unparked(UnparkToken(waiter.token())),
            Wait::TimedOut => ParkResult::TimedOut,
            Wait::Interrupted => ParkResult::Interrupted,
        }
    };
    let on_cancel = on_cancel.take().expect("on_cancel is taken only here or on unwind");
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

/// Takes a queued node off its queue, running the caller's `on_cancel`, if `before_sleep`
/// panics; if a waker dequeued it first, waits until that waker is done with the node.
struct CancelOnUnwind<'a, F: FnOnce(usize, bool)> {
    waiter: &'a Waiter,
    on_cancel: &'a mut Option<F>,
}

impl<F: FnOnce(usize, bool)> Drop for CancelOnUnwind<'_, F> {
    fn drop(&mut self) {
        let on_cancel = self.on_cancel.take();
        if !table::cancel(self.waiter, |key, was_last| on_cancel.into_iter().for_each(|f| f(key, was_last))) {
            self.waiter.parker.wait_for_wake();
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

/// In a forked child, ends the forking thread's own sleep if it forked from `before_sleep`:
/// its node was in the table the child discarded, so only this can end it (a spurious wake,
/// `Unparked` with the default token). Called by the `pthread_atfork` child handler.
#[cfg(all(unix, not(loom), not(miri)))]
pub(crate) fn end_own_sleep_after_fork() {
    let _ = SLEEPING.try_with(|s| {
        // SAFETY: as in `interrupt`: set only while this thread's sleep owning the parker is
        // in progress, and the child handler runs on that thread, nested in the sleep.
        if let Some(p) = unsafe { s.get().as_ref() } {
            p.wake_in_forked_child();
        }
    });
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
///
/// # Safety
///
/// As for [`park`]: `key` belongs to the caller's primitive and this call follows its protocol.
pub unsafe fn unpark_one(key: usize, callback: impl FnOnce(UnparkResult) -> UnparkToken) -> UnparkResult {
    unpark_one_on(Key::new(key, Space::Park), callback)
}

/// [`unpark_one`] on a key of any space.
pub(crate) fn unpark_one_on(key: Key, callback: impl FnOnce(UnparkResult) -> UnparkToken) -> UnparkResult {
    table::unpark(key, 1, true, |found| Some(callback(found).0))
}

/// [`unpark_one_on`] whose callback may also decline: `None` wakes nobody and leaves the
/// queue as it was (the result then says `unparked: 0`). For the mutex's hand-off, which a
/// thread that took the lock meanwhile defers to its own unlock. `want_fair`: whether the
/// bucket's fair timer is consulted (one clock read); without it `be_fair` is false.
pub(crate) fn unpark_one_or_keep_on(
    key: Key,
    want_fair: bool,
    callback: impl FnOnce(UnparkResult) -> Option<UnparkToken>,
) -> UnparkResult {
    table::unpark(key, 1, want_fair, |found| callback(found).map(|t| t.0))
}

/// Wakes up to `n` threads parked on `key`, oldest first, each with `token`; returns how many
/// it woke. `n == 0` wakes none. Without a callback it needs no lock when `key`'s bucket
/// holds no sleeper: a SeqCst fence and a load. A thread that queued before any write this
/// thread made before the call (to a flag the sleeper checks after queuing, say) is seen, and
/// so is one that a requeue is moving onto `key` while this thread acts on what that
/// requeue's `validate` published.
///
/// # Safety
///
/// As for [`park`]: `key` belongs to the caller's primitive and this call follows its protocol.
#[inline]
pub unsafe fn unpark_n(key: usize, n: usize, token: UnparkToken) -> usize {
    unpark_n_on(Key::new(key, Space::Park), n, token)
}

/// [`unpark_n`] on a key of any space.
#[inline]
pub(crate) fn unpark_n_on(key: Key, n: usize, token: UnparkToken) -> usize {
    if n == 0 || !table::has_sleepers(key.addr) {
        return 0;
    }
    // No callback reads `be_fair`: skip the fair timer and its clock read.
    table::unpark(key, n, false, |_| Some(token.0)).unparked
}

/// Wakes every thread parked on `key` with `token`; returns how many. See [`unpark_n`].
///
/// # Safety
///
/// As for [`park`]: `key` belongs to the caller's primitive and this call follows its protocol.
pub unsafe fn unpark_all(key: usize, token: UnparkToken) -> usize {
    unpark_n_on(Key::new(key, Space::Park), usize::MAX, token)
}

/// Moves the threads parked on `from` to `to`, waking the oldest first if asked. `validate`
/// runs under both buckets' locks and chooses the operation; unless it chose
/// [`RequeueOp::Abort`], `callback` then runs, still under the locks, with what will be done,
/// and returns the woken thread's token. Moved threads stay asleep; their `park` returns when
/// an unpark of `to` reaches them.
///
/// # Safety
///
/// As for [`park`], for both keys: each belongs to the caller's primitive (or primitives that
/// agree on this protocol), and the threads moved to `to` must be ones that an unpark of `to`
/// may wake.
pub unsafe fn unpark_requeue(
    from: usize,
    to: usize,
    validate: impl FnOnce() -> RequeueOp,
    callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
) -> UnparkResult {
    let (from, to) = (Key::new(from, Space::Park), Key::new(to, Space::Park));
    requeue_on(from, to, 1, true, |_| validate(), callback)
}

/// [`unpark_requeue`] on keys of one space; `validate(from_has_waiters)` also learns whether
/// any thread is queued on `from`.
/// `wake`: how many waiters `UnparkOneRequeueRest` wakes (the public API: 1). `want_fair`:
/// whether `callback` reads `be_fair` (the public API's may; wchan's condvar never does, so
/// its notifies skip the fair timer's clock read).
pub(crate) fn requeue_on(
    from: Key,
    to: Key,
    wake: usize,
    want_fair: bool,
    validate: impl FnOnce(bool) -> RequeueOp,
    callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
) -> UnparkResult {
    table::requeue(from, to, wake, want_fair, validate, |op, found| callback(op, found).0)
}

/// The table bucket a key hashes to (in any space); two keys with the same index share a lock
/// and a list. Exposed so tests and models can pick colliding keys.
#[doc(hidden)]
pub fn bucket_index(key: usize) -> usize {
    table::bucket_index(key)
}

/// The number of buckets in the table (2 under loom).
#[doc(hidden)]
pub const BUCKETS: usize = table::BUCKETS;
