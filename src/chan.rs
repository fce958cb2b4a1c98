//! The OpenBSD face: [`Sleep`] and [`wakeup`], `__thrsleep(2)` and `__thrwakeup(2)` in Rust
//! shape. `docs/semantics.md` maps each clause of the man page to what happens here.

use crate::loom::AtomicBool;
use crate::park::{self, ParkOptions, ParkResult, DEFAULT_UNPARK_TOKEN};
use crate::table::{Key, Space};
use crate::time::Deadline;
use crate::Error;

/// A sleep on a wait channel, built up and then started with [`Sleep::wait`].
///
/// ```
/// use std::time::Duration;
/// use wchan::{Deadline, Error, Sleep};
///
/// let chan = 0u8;
/// // Nobody wakes us: the deadline ends the sleep.
/// let r = Sleep::on(&chan).until(Deadline::after(Duration::from_millis(5))).wait();
/// assert_eq!(r, Err(Error::TimedOut));
/// ```
#[must_use = "a Sleep does nothing until `.wait()`"]
pub struct Sleep<'a> {
    id: usize,
    deadline: Option<Deadline>,
    abort: Option<&'a AtomicBool>,
    unlock: Option<Unlock<'a>>,
}

impl<'a> Sleep<'a> {
    /// A sleep on the channel `id`: any address (`&x` coerces), compared by address only.
    /// A null `id` makes [`Sleep::wait`] fail with `InvalidArgument`.
    ///
    /// Channels are a key space of their own: a sleep on the address of a wchan `Mutex` or
    /// `Condvar`, or on an address a [`crate::park`] primitive uses, never shares a queue with
    /// their waiters, and a [`wakeup`] can only end sleeps started here.
    pub fn on<K: ?Sized>(id: *const K) -> Sleep<'a> {
        Sleep { id: id.cast::<()>() as usize, deadline: None, abort: None, unlock: None }
    }

    /// Ends the sleep with `TimedOut` once `deadline`'s clock reaches it. A deadline at or
    /// before now returns `TimedOut` at once without queueing (the guard is still released).
    pub fn until(mut self, deadline: Deadline) -> Sleep<'a> {
        self.deadline = Some(deadline);
        self
    }

    /// Releases `guard` once this thread is queued on the channel, before it blocks. A thread
    /// that takes the lock after that and calls [`wakeup`] on the channel wakes this sleeper.
    ///
    /// Any `lock_api` guard works: a [`crate::SpinGuard`], a [`crate::MutexGuard`], a
    /// `parking_lot` guard. The guard is released in every outcome, errors included, by the
    /// time `wait` returns. Calling `unlocking` again releases the earlier guard at once.
    pub fn unlocking<R, T>(mut self, guard: lock_api::MutexGuard<'a, R, T>) -> Sleep<'a>
    where
        R: lock_api::RawMutex + 'a,
        T: ?Sized + 'a,
    {
        let mutex = lock_api::MutexGuard::mutex(&guard);
        std::mem::forget(guard);
        // SAFETY: the guard proved this thread holds the lock; forgetting it moves that
        // ownership into `Unlock`, which releases it exactly once, on drop.
        self.unlock = Some(Unlock(unsafe { mutex.raw() }));
        self
    }

    /// Releases the raw lock `raw` once this thread is queued on the channel, before it
    /// blocks: [`Sleep::unlocking`] for a lock that has no guard, such as a C spinlock word
    /// that the caller locked through `raw`'s own `lock`. A thread that takes the lock after
    /// the release and calls [`wakeup`] on the channel wakes this sleeper. The release is
    /// `raw.unlock()`, called exactly once, in every outcome (errors included) by the time
    /// `wait` returns; nothing is allocated. Calling it again (or [`Sleep::unlocking`])
    /// releases the earlier lock at once.
    ///
    /// ```
    /// use lock_api::RawMutex as _;
    /// use wchan::{Error, RawMutex, Sleep};
    ///
    /// let raw = <RawMutex as lock_api::RawMutex>::INIT;
    /// raw.lock();
    /// let (chan, aborted) = (0u8, std::sync::atomic::AtomicBool::new(true));
    /// // SAFETY: this thread holds `raw`, and gives up the right to unlock it.
    /// let sleep = unsafe { Sleep::on(&chan).unlocking_raw(&raw) };
    /// assert_eq!(sleep.abort_if(&aborted).wait(), Err(Error::Interrupted));
    /// assert!(!raw.is_locked()); // released although the sleep failed
    /// ```
    ///
    /// # Safety
    ///
    /// The calling thread holds `raw` (it locked it and has not unlocked it), and hands over
    /// the duty to unlock it: nothing else unlocks it for this hold.
    pub unsafe fn unlocking_raw<R: lock_api::RawMutex + 'a>(mut self, raw: &'a R) -> Sleep<'a> {
        // Dropping an earlier `Unlock` here releases that lock at once, as documented.
        self.unlock = Some(Unlock(raw));
        self
    }

    /// Ends the sleep with `Interrupted` if `flag` is set when checked: after the thread is
    /// queued and the guard released, just before it blocks (OpenBSD's order). A flag set
    /// before a [`wakeup`] of the same channel is never missed. To also end a sleep that is
    /// already blocked when a signal arrives, the handler calls [`crate::interrupt`] after
    /// setting the flag.
    pub fn abort_if(mut self, flag: &'a AtomicBool) -> Sleep<'a> {
        self.abort = Some(flag);
        self
    }

    /// Queues the thread on the channel, releases the guard, checks the abort flag and
    /// blocks until a [`wakeup`] takes it off the queue (`Ok`), the deadline passes
    /// (`TimedOut`), or it is interrupted (`Interrupted`). A sleeper that a `wakeup` dequeued
    /// returns `Ok` even if its deadline or abort came at the same moment, so `wakeup`'s count
    /// is exact.
    pub fn wait(self) -> Result<(), Error> {
        #[cfg(feature = "tracing")]
        let trace =
            crate::trace::SleepTrace::begin(self.id, self.deadline, self.unlock.is_some(), self.abort.is_some());
        let result = self.wait_untraced();
        #[cfg(feature = "tracing")]
        crate::trace::SleepTrace::end(trace, result);
        result
    }

    /// [`Sleep::wait`] itself; inlined, so without the `tracing` feature `wait` is this code.
    #[inline(always)]
    fn wait_untraced(self) -> Result<(), Error> {
        let Sleep { id, deadline, abort, unlock } = self;
        if id == 0 {
            drop(unlock);
            return Err(Error::InvalidArgument);
        }
        #[cfg(wchan_bug = "unlock_before_queue")] // deliberate bug for loom-tests: unlock, then queue
        let unlock: Option<Unlock<'_>> = {
            drop(unlock);
            None
        };
        let options = ParkOptions { deadline, abort };
        match park::park_on(Key::new(id, Space::Chan), options, |_| true, move || drop(unlock), |_, _| {}) {
            ParkResult::Unparked(_) => Ok(()),
            ParkResult::TimedOut => Err(Error::TimedOut),
            ParkResult::Interrupted => Err(Error::Interrupted),
            ParkResult::Invalid => unreachable!("validate always agrees"),
        }
    }
}

impl std::fmt::Debug for Sleep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("id", &(self.id as *const ()))
            .field("deadline", &self.deadline)
            .field("abort", &self.abort.is_some())
            .field("unlocking", &self.unlock.is_some())
            .finish()
    }
}

/// Wakes up to `n` threads asleep on channel `id`, oldest first; `n == 0` wakes all of them.
///
/// Returns `Ok(k)` with `k >= 1` the exact number taken off the queue (each of their
/// `wait` calls returns `Ok`), `Err(NoWaiters)` when none was asleep, `Err(InvalidArgument)`
/// for a null `id`. Sleepers on other channels are never woken, even when they share a
/// bucket, and neither are threads parked through [`crate::park`] or inside wchan's own
/// primitives, whatever address they use: a wakeup reaches [`Sleep`]s only. When no thread sleeps on any channel of `id`'s bucket it takes no lock and makes
/// no syscall.
///
/// ```
/// use wchan::{wakeup, Error};
/// let chan = 0u32;
/// assert_eq!(wakeup(&chan, 0), Err(Error::NoWaiters));
/// assert_eq!(wakeup(std::ptr::null::<u32>(), 1), Err(Error::InvalidArgument));
/// ```
#[inline]
pub fn wakeup<K: ?Sized>(id: *const K, n: usize) -> Result<usize, Error> {
    let id = id.cast::<()>() as usize;
    let result = wakeup_at(id, n);
    #[cfg(feature = "tracing")]
    crate::trace::wakeup(id, n, result);
    result
}

/// [`wakeup`] itself; inlined, so without the `tracing` feature `wakeup` is this code.
#[inline(always)]
fn wakeup_at(id: usize, n: usize) -> Result<usize, Error> {
    if id == 0 {
        return Err(Error::InvalidArgument);
    }
    let n = if n == 0 { usize::MAX } else { n };
    match park::unpark_n_on(Key::new(id, Space::Chan), n, DEFAULT_UNPARK_TOKEN) {
        0 => Err(Error::NoWaiters),
        woken => Ok(woken),
    }
}

/// A held lock whose release a sleep performs; releases on drop. Made only by
/// [`Sleep::unlocking`] (from a forgotten guard) or [`Sleep::unlocking_raw`] (whose caller
/// promised it holds the lock), so the drop is the hold's one unlock.
struct Unlock<'a>(&'a dyn RawUnlock);

trait RawUnlock {
    /// # Safety
    /// The caller holds the lock.
    unsafe fn unlock(&self);
}

impl<R: lock_api::RawMutex> RawUnlock for R {
    unsafe fn unlock(&self) {
        // SAFETY: forwarded from the caller: the lock is held.
        unsafe { lock_api::RawMutex::unlock(self) }
    }
}

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        // SAFETY: an `Unlock` is made only from a forgotten guard or by `unlocking_raw`, whose
        // caller holds the lock and handed over its unlock; it is dropped once.
        unsafe { self.0.unlock() }
    }
}
