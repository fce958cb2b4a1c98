//! `Condvar`: a condition variable for wchan's [`Mutex`], one word of state.
//!
//! The state word holds the address of the [`RawMutex`] whose waiters are queued on the
//! condition variable:
//!
//! | state        | meaning                                                               |
//! |--------------|-----------------------------------------------------------------------|
//! | `0`          | no thread is queued on the condvar's key: a notify is one load        |
//! | `&mutex`     | threads are queued on the key; all of them wait with this mutex       |
//!
//! Invariant: the state is non-zero exactly while a thread is queued on the condvar's key,
//! and it is written only under that key's bucket lock:
//! - `0 -> &mutex`: a waiter's `validate`, before it is queued (and before it unlocks the mutex);
//! - `&mutex -> 0`: `notify_one` when it takes the last waiter, `notify_all` when it wakes or
//!   moves all of them, or the `on_cancel` of the last waiter that times out or is interrupted.
//!
//! Every `validate` also learns whether a thread really is queued on the key, and treats a
//! non-zero state with nobody queued as stale (a forked child inherits the word but none of
//! the parent's sleepers): a notify resets it without following the address, a waiter
//! claims it. The address is dereferenced only while a queued waiter keeps the mutex alive.
//!
//! A waiter that finds another mutex's address in the state is the misuse "one condvar, two
//! mutexes at once": its `validate` refuses to queue it, and `wait` panics once `park` has
//! returned and no wchan lock is held, leaving the state to the threads that use it correctly.
//!
//! `notify_all` wakes a *herd* of the oldest waiters, as many as there are CPUs this process
//! may run on (`crate::cpus`: at most 64; one under loom), and under both buckets' locks moves
//! the rest to the mutex's key (a *requeue*): the herd runs at once, as many as can run, and
//! the rest are woken one by one as the mutex is unlocked (each of them, once woken, waking
//! the next early), so a large crowd never stampedes for a lock only one can hold. A requeued
//! waiter's `park` returns with the mutex's token: `TOKEN_HANDOFF` means the unlocker handed
//! it the lock.
//!
//! The mutex's `PARKED` bit (see its module) is set when waiters are moved onto it, always
//! under both bucket locks, so the mutex's slow-path unlock (which takes its bucket lock) sees
//! the moved waiters and the bit together:
//! - `notify_one` with the mutex held: `RequeueOne`, with `PARKED` set in the same atomic step
//!   that sees `LOCKED` (`mark_parked_if_locked`), so the owner's unlock takes the slow path
//!   and wakes it; with the mutex free: `UnparkOne`, the waiter is woken to take it;
//! - `notify_all`: `UnparkOneRequeueRest` (waking the herd), which sets `PARKED` after the
//!   move if anyone was moved, held mutex or free. If a fast-path unlock ran before the bit
//!   was set, a woken waiter still locks the mutex, and its unlock wakes the next.
//!
//! A free mutex is never marked for nothing: a notify after the unlock (the usual producer
//! pattern) leaves the mutex's fast paths and its lockers' spinning intact.

use std::cell::Cell;
use std::fmt;
use std::time::Duration;

use lock_api::RawMutex as _;

use super::mutex::{MutexGuard, RawMutex, TOKEN_HANDOFF, TOKEN_RETRY};
use crate::loom::{ConstAtomicUsize, Ordering};
use crate::park::UnparkToken;
use crate::park::{self, ParkOptions, ParkResult, RequeueOp};
use crate::table::Key;
use crate::time::Deadline;

#[cfg(doc)]
use super::mutex::Mutex;

/// A condition variable: threads wait on it, holding a [`Mutex`], until another thread
/// notifies it.
///
/// One word; [`Condvar::new`] is `const`, so a condvar can live in a `static`. A notify with no
/// thread waiting is a single atomic load (no lock, no system call); [`notify_all`] wakes one
/// waiter per CPU and moves the rest onto the mutex's queue instead of waking them all at
/// once. A waiter spins briefly before it blocks (at most about 3 µs, less when its notifies
/// keep arriving later than that: the budget adapts per thread), so a notify from another
/// running thread costs neither side a system call; a timed wait may therefore time out up
/// to that long after its deadline. A waiter may wake
/// spuriously (a signal handler that runs while it sleeps ends the sleep), so wait in a loop
/// or use [`wait_while`], which never returns before its condition is false.
///
/// All waiters of one condvar must use the same mutex at a given time; waiting with a second
/// mutex while threads still wait with the first panics (it is never undefined behaviour).
///
/// ```
/// use std::sync::Arc;
/// use wchan::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let waiter = {
///     let pair = pair.clone();
///     std::thread::spawn(move || {
///         let (ready, cv) = &*pair;
///         let mut ready = ready.lock();
///         cv.wait_while(&mut ready, |ready| !*ready);
///     })
/// };
/// let (ready, cv) = &*pair;
/// *ready.lock() = true;
/// cv.notify_one();
/// waiter.join().unwrap();
/// ```
///
/// [`notify_all`]: Condvar::notify_all
/// [`wait_while`]: Condvar::wait_while
pub struct Condvar {
    /// The address of the mutex the queued waiters use, or 0: see the module docs.
    state: ConstAtomicUsize,
}

/// Whether a timed wait on a [`Condvar`] returned because its time ran out.
///
/// ```
/// use std::time::Duration;
/// use wchan::{Condvar, Mutex};
///
/// let (m, cv) = (Mutex::new(()), Condvar::new());
/// let mut guard = m.lock();
/// assert!(cv.wait_for(&mut guard, Duration::from_millis(1)).timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True when the wait ended because the deadline passed, rather than by a notification
    /// (or, for the `wait_while_*` methods: the deadline passed and the condition still held).
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// The token `notify_one` gives the waiter it wakes directly (not through the mutex): like
/// the mutex's `TOKEN_RETRY`, but it tells `wait_on` that no notify_all is passing on.
const TOKEN_NOTIFIED_ONE: UnparkToken = UnparkToken(3);

/// How one `park` on the condvar ended, as far as `wait` cares.
enum Woke {
    /// Notified (or a spurious return): the mutex is held again.
    Notified,
    /// The deadline passed while queued on the condvar's own key: the mutex is held again.
    TimedOut,
}

impl Condvar {
    /// A condition variable with no waiters.
    ///
    /// ```
    /// static READY: wchan::Condvar = wchan::Condvar::new();
    /// assert!(!READY.notify_one());
    /// ```
    pub const fn new() -> Condvar {
        Condvar { state: ConstAtomicUsize::new(0) }
    }

    fn key(&self) -> Key {
        super::internal_key(self)
    }

    /// Blocks until notified, releasing the guard's mutex while asleep and holding it again
    /// when this returns. May return spuriously (see the type docs): check your condition in
    /// a loop, or use [`Condvar::wait_while`].
    ///
    /// # Panics
    ///
    /// If other threads are waiting on this condvar with a different mutex.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wchan::{Condvar, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    /// let t = {
    ///     let pair = pair.clone();
    ///     std::thread::spawn(move || {
    ///         let (n, cv) = &*pair;
    ///         *n.lock() = 7;
    ///         cv.notify_all();
    ///     })
    /// };
    /// let (n, cv) = &*pair;
    /// let mut n = n.lock();
    /// while *n == 0 {
    ///     cv.wait(&mut n);
    /// }
    /// assert_eq!(*n, 7);
    /// # drop(n);
    /// t.join().unwrap();
    /// ```
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        self.wait_on(raw_of(guard), None);
    }

    /// Blocks until `condition` returns false, checking it under the mutex first and after
    /// every wakeup. No spurious wakeup reaches the caller: when this returns, the condition
    /// was false with the lock held.
    ///
    /// # Panics
    ///
    /// As [`Condvar::wait`]; a panic in `condition` propagates with the lock held by the guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wchan::{Condvar, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    /// let producer = {
    ///     let pair = pair.clone();
    ///     std::thread::spawn(move || {
    ///         pair.0.lock().push("job");
    ///         pair.1.notify_one();
    ///     })
    /// };
    /// let mut jobs = pair.0.lock();
    /// pair.1.wait_while(&mut jobs, |jobs| jobs.is_empty());
    /// assert_eq!(jobs.pop(), Some("job"));
    /// # drop(jobs);
    /// producer.join().unwrap();
    /// ```
    pub fn wait_while<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>, mut condition: impl FnMut(&mut T) -> bool) {
        while condition(&mut **guard) {
            self.wait(guard);
        }
    }

    /// Like [`Condvar::wait`], but gives up once `timeout` has passed on the monotonic clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wchan::{Condvar, Mutex};
    ///
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let mut guard = m.lock();
    /// let result = cv.wait_for(&mut guard, Duration::from_millis(10));
    /// assert!(result.timed_out()); // nobody notified
    /// ```
    pub fn wait_for<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>, timeout: Duration) -> WaitTimeoutResult {
        self.wait_until(guard, Deadline::after(timeout))
    }

    /// Like [`Condvar::wait`], but gives up at `deadline`: an `Instant` (monotonic clock), a
    /// `SystemTime` (wall clock: the wait follows changes to the system time on Linux) or a
    /// [`Deadline`]. A deadline that has already passed returns at once, still holding the lock.
    ///
    /// A waiter that a [`Condvar::notify_all`] has moved to the mutex's queue has been
    /// notified: it reports `timed_out() == false` even if its deadline passes while it waits
    /// for the mutex.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use wchan::{Condvar, Mutex};
    ///
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let mut guard = m.lock();
    /// let wall = SystemTime::now() + Duration::from_millis(10);
    /// assert!(cv.wait_until(&mut guard, wall).timed_out());
    /// ```
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: impl Into<Deadline>,
    ) -> WaitTimeoutResult {
        match self.wait_on(raw_of(guard), Some(deadline.into())) {
            Woke::Notified => WaitTimeoutResult(false),
            Woke::TimedOut => WaitTimeoutResult(true),
        }
    }

    /// [`Condvar::wait_while`] with a timeout: returns once `condition` is false (not timed
    /// out) or once `timeout` has passed with the condition still true (timed out).
    ///
    /// ```
    /// use std::time::Duration;
    /// use wchan::{Condvar, Mutex};
    ///
    /// let (m, cv) = (Mutex::new(0), Condvar::new());
    /// let mut n = m.lock();
    /// let r = cv.wait_while_for(&mut n, |n| *n == 0, Duration::from_millis(10));
    /// assert!(r.timed_out());
    /// ```
    pub fn wait_while_for<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        condition: impl FnMut(&mut T) -> bool,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        self.wait_while_until(guard, condition, Deadline::after(timeout))
    }

    /// [`Condvar::wait_while`] with a deadline (an `Instant`, a `SystemTime` or a
    /// [`Deadline`]): returns once `condition` is false (not timed out) or once the deadline
    /// has passed with the condition still true (timed out). The condition is checked one
    /// last time after the deadline, as std's `wait_timeout_while` does.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wchan::{Condvar, Mutex};
    ///
    /// let (m, cv) = (Mutex::new(1), Condvar::new());
    /// let mut n = m.lock();
    /// // The condition is already false: no wait at all.
    /// let r = cv.wait_while_until(&mut n, |n| *n == 0, Instant::now() + Duration::from_secs(60));
    /// assert!(!r.timed_out());
    /// ```
    pub fn wait_while_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        mut condition: impl FnMut(&mut T) -> bool,
        deadline: impl Into<Deadline>,
    ) -> WaitTimeoutResult {
        let deadline = deadline.into();
        while condition(&mut **guard) {
            if self.wait_until(guard, deadline).timed_out() || deadline.has_passed() {
                return WaitTimeoutResult(condition(&mut **guard));
            }
        }
        WaitTimeoutResult(false)
    }

    /// Wakes one waiting thread, the one that has waited longest; returns whether there was
    /// one. With no waiter this is one atomic load: no lock, no system call. If the mutex is
    /// held at that moment (typically by the notifier), the thread is moved to the mutex's
    /// queue instead, and the unlock wakes it: it would only find the mutex held and park
    /// again.
    ///
    /// ```
    /// let cv = wchan::Condvar::new();
    /// assert!(!cv.notify_one()); // nobody waits
    /// ```
    #[inline]
    pub fn notify_one(&self) -> bool {
        // Relaxed: a waiter stored its mutex's address before unlocking that mutex, and a
        // notifier that changed the condition took the mutex after that unlock, so the store
        // is visible here. A waiter that checks the condition later needs no wakeup.
        if self.state.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.notify_one_slow()
    }

    /// `notify_one` with a waiter queued: if the mutex is held (typically by the notifier),
    /// move the oldest waiter to the mutex's queue, where the unlock wakes it, instead of
    /// waking it only to find the mutex held and park again. Otherwise wake it.
    #[cold]
    fn notify_one_slow(&self) -> bool {
        let mutex_addr = self.state.load(Ordering::Relaxed);
        if mutex_addr == 0 {
            return false;
        }
        let mutex_key = super::internal_key_at(mutex_addr);
        let validate = |queued: bool| {
            let now = self.state.load(Ordering::Relaxed);
            if now == 0 {
                return RequeueOp::Abort;
            }
            if !queued {
                // State with nobody queued is stale (a forked child inherits the word but
                // not the sleepers): the address may name freed memory, so never follow it.
                self.state.store(0, Ordering::Relaxed); // under the bucket lock
                return RequeueOp::Abort;
            }
            if now != mutex_addr {
                return RequeueOp::UnparkOne;
            }
            // SAFETY: as in `notify_all`: the state still holds the address under the
            // condvar's bucket lock, so a queued waiter's guard keeps the mutex alive.
            let mutex = unsafe { &*(mutex_addr as *const RawMutex) };
            // PARKED only if LOCKED, in one atomic step (see `mark_parked_if_locked`): a free
            // mutex keeps its fast paths.
            if mutex.mark_parked_if_locked(false) {
                RequeueOp::RequeueOne
            } else {
                RequeueOp::UnparkOne
            }
        };
        let result = park::requeue_on(self.key(), mutex_key, 1, false, validate, |_, found| {
            if !found.have_more {
                self.state.store(0, Ordering::Relaxed); // under the bucket lock
            }
            // Never the hand-off token: a thread woken from the condvar does not own the mutex.
            // Nor the mutex's retry token: it wakes nobody ahead (see `wait_on`).
            TOKEN_NOTIFIED_ONE
        });
        result.unparked + result.requeued > 0
    }

    /// Wakes all waiting threads; returns how many were woken or moved to the mutex's queue.
    ///
    /// The oldest waiters are woken at once, as many as there are CPUs this process may run on
    /// (at most 64): more could not run at the same time. Any others are moved (requeued) onto
    /// the mutex's queue, where each unlock of the mutex wakes the next one, and each of them,
    /// once woken, wakes the one after it early. So a broadcast to a few threads costs what
    /// waking them costs, and one to a crowd never sends the whole crowd after one lock. With
    /// no waiter this is one atomic load.
    ///
    /// ```
    /// let cv = wchan::Condvar::new();
    /// assert_eq!(cv.notify_all(), 0); // nobody waits
    /// ```
    #[inline]
    pub fn notify_all(&self) -> usize {
        // Relaxed: as in `notify_one`.
        let mutex_addr = self.state.load(Ordering::Relaxed);
        if mutex_addr == 0 {
            return 0;
        }
        // The mutex may be gone by now (its waiters all left): no reference to it until the
        // state is re-checked under the lock. Its key comes from the bare address (`internal_key_at`).
        let mutex_key = super::internal_key_at(mutex_addr);
        let validate = |queued: bool| {
            // The waiters may all have left, and new ones come with another mutex.
            if self.state.load(Ordering::Relaxed) != mutex_addr {
                return RequeueOp::Abort;
            }
            if !queued {
                // Stale state, as in `notify_one_slow`: reset it, never follow the address.
                self.state.store(0, Ordering::Relaxed); // under the bucket lock
                return RequeueOp::Abort;
            }
            // SAFETY: the state still holds the address, under the condvar's bucket lock, so a
            // thread is queued on the condvar waiting with this mutex; it holds a guard that
            // borrows the mutex and cannot return while queued, so the mutex is alive.
            let mutex = unsafe { &*(mutex_addr as *const RawMutex) };
            debug_assert_eq!(mutex.park_key(), mutex_key);
            // Every waiter leaves this key now: woken or moved.
            self.state.store(0, Ordering::Relaxed);
            // The design before the woken herd (issue 13): with the mutex held, move them all,
            // and mark PARKED after a separate check. A fast-path unlock between the two
            // wakes nobody and leaves them asleep on a free mutex.
            #[cfg(wchan_bug = "notify_all_checks_then_marks")] // deliberate bug for loom-tests: two steps
            if mutex.locked() {
                mutex.mark_parked(true);
                return RequeueOp::RequeueAll;
            }
            // Held or free: wake the oldest `herd` (they compete for the mutex) and move the
            // rest; `callback` marks PARKED for those.
            RequeueOp::UnparkOneRequeueRest
        };
        let herd = crate::cpus::runnable();
        // The woken threads compete for the mutex: never the hand-off token.
        let result = park::requeue_on(self.key(), mutex_key, herd, false, validate, |op, result| {
            if op == RequeueOp::UnparkOneRequeueRest && result.requeued > 0 {
                // Still under both bucket locks, so the mutex's slow-path unlock (which needs
                // its bucket lock) sees the moved waiters and the bit together. A fast-path
                // unlock may have run before: then a woken thread, which locks the mutex
                // after this, sees PARKED at its own unlock and wakes the next.
                // SAFETY: as in `validate`: this op means the state held the address and a
                // waiter was queued, so the mutex is alive while the locks are held.
                unsafe { &*(mutex_addr as *const RawMutex) }.mark_parked(true);
            }
            TOKEN_RETRY
        });
        result.unparked + result.requeued
    }

    /// One wait, with the mutex held on entry and on return. The protocol (see module docs):
    /// under the bucket lock claim the state for `mutex`, queue, unlock `mutex`, sleep, lock
    /// it again unless it was handed over.
    fn wait_on(&self, mutex: &RawMutex, deadline: Option<Deadline>) -> Woke {
        let key = self.key();
        let addr = mutex as *const RawMutex as usize;
        let misuse = Cell::new(false);
        let unlocked = Cell::new(false);
        let requeued = Cell::new(false);
        let result = park::park_spinning_on(
            key,
            ParkOptions::new().deadline(deadline),
            true,
            |others_queued| match self.state.load(Ordering::Relaxed) {
                other if other == addr => true,
                // Free, or stale (non-zero with nobody queued: a forked child inherits the
                // word but not the sleepers): claim it for this mutex.
                other if other == 0 || !others_queued => {
                    self.state.store(addr, Ordering::Relaxed); // under the bucket lock
                    true
                }
                _ => {
                    misuse.set(true); // panic later, with no lock held
                    false
                }
            },
            || {
                unlocked.set(true);
                // SAFETY: the caller's guard proves this thread holds `mutex`; the lock is
                // taken again (or handed back) before `wait_on` returns to that guard.
                unsafe { mutex.unlock() };
            },
            |cancelled_key, was_last| {
                if cancelled_key != key.addr {
                    // Moved to the mutex's queue by `notify_all`: notified, not timed out. A
                    // PARKED bit left on the mutex costs its next unlock one slow path.
                    requeued.set(true);
                } else if was_last {
                    self.state.store(0, Ordering::Relaxed); // under the bucket lock
                }
            },
        );
        if misuse.get() {
            panic!("wchan::Condvar used with two different mutexes at the same time");
        }
        if !unlocked.get() {
            // The deadline had passed before anything ran: the mutex was never released.
            debug_assert_eq!(result, ParkResult::TimedOut);
            return Woke::TimedOut;
        }
        match result {
            // A fair unlock of the mutex handed it to us (we were requeued onto it).
            ParkResult::Unparked(TOKEN_HANDOFF) => return Woke::Notified,
            // Woken by `notify_all` (one of its herd), or by an unlock after a notify moved us
            // onto the mutex: others moved by a `notify_all` may be queued behind. Wake the
            // next one now, so its wake-up overlaps our critical section
            // (`RawMutex::wake_next_early`, which does nothing unless a `notify_all` moved
            // waiters there). Waiters woken early (`TOKEN_EARLY`) or by `notify_one` do not
            // pass it on, so each herd member and each unlock adds at most one early wake: at
            // most about twice the CPU count on their way, never the whole crowd.
            ParkResult::Unparked(TOKEN_RETRY) => {
                mutex.wake_next_early();
                mutex.lock();
            }
            _ => mutex.lock(),
        }
        match result {
            ParkResult::TimedOut if !requeued.get() => Woke::TimedOut,
            // Notified, requeued, or interrupted by a signal handler (a spurious wakeup).
            _ => Woke::Notified,
        }
    }
}

/// The raw mutex under a guard.
fn raw_of<'a, T: ?Sized>(guard: &'a MutexGuard<'_, T>) -> &'a RawMutex {
    // SAFETY: unlocking behind the guard's back would break it; `wait_on` unlocks only while
    // asleep and re-locks (or is handed the lock) before returning, so to the caller the
    // guard holds the mutex throughout.
    unsafe { lock_api::MutexGuard::mutex(guard).raw() }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").field("has_waiters", &(self.state.load(Ordering::Relaxed) != 0)).finish()
    }
}
