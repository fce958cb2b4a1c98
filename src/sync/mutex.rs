//! `RawMutex`: a one-byte lock that spins briefly, then parks on the wait-channel table.
//!
//! The state byte:
//!
//! | bits            | meaning                                                      |
//! |-----------------|--------------------------------------------------------------|
//! | `0`             | unlocked, nobody parked                                      |
//! | `LOCKED`        | locked, nobody parked: unlock is one subtraction              |
//! | `LOCKED|PARKED` | locked, threads are (or are about to be) parked on the key   |
//! | `PARKED`        | unlocked, threads still parked (the next lock/unlock sees it) |
//! | `+ BROADCAST`   | with `PARKED`: a condvar's `notify_all` moved waiters here     |
//! | `+ HANDOFF`     | with `PARKED`: the oldest waiter is owed the lock; no locker takes it |
//! | `+ RETRIED`     | with `PARKED`: a woken waiter lost the lock and parked again   |
//!
//! Invariant: if a thread is parked on the key, `PARKED` is set. It is set by a locker before
//! it parks (or by a condvar that moves waiters here, under this key's bucket lock), checked
//! again by `validate` under the bucket lock, and cleared only under that lock, when no
//! waiter remains: by the unlock callback, by `on_cancel` of the last waiter that gives up, or
//! by `wake_next_early` when it takes the last one. So an unlock can never miss a parked
//! thread. `BROADCAST` is only a hint for `wake_next_early`: set with `PARKED` by a
//! `notify_all` that moved waiters here, cleared with it, and never read by a decision to
//! park or to skip a wake. `HANDOFF` is set and cleared only under the bucket lock, always
//! cleared with `PARKED`. `RETRIED` is a hint too: set with `PARKED` by a locker that parks
//! again after a wake, cleared with it, read only to decide whether an unlock consults the
//! fair timer.
//!
//! Unlock releases first, and only then, if `PARKED` was set, takes the bucket lock to wake a
//! waiter. It releases with one of two instructions, whichever is cheaper for where the lock's
//! cache line probably is (`last_unlocked`): a compare-exchange from `LOCKED` to 0, which
//! fails on any waiter bit and falls through to the other, or a `fetch_sub` (a `lock decb` on
//! x86-64), which cannot fail and clears exactly `LOCKED`. The slow path therefore runs on a
//! mutex that another thread may already have taken; it touches the state only through
//! read-modify-writes that keep `LOCKED` as it finds it. (The mutex is still alive: the
//! unlocking thread's `&self` borrow lasts until `unlock` returns.)
//!
//! Fairness: a lock released normally may be taken by any thread (barging keeps throughput
//! up). Once a woken waiter has lost the lock and parked again (`RETRIED`), each unlock asks
//! the bucket's fair timer; when it is due (`be_fair`: at a random point of each millisecond
//! in which the bucket wakes anyone), the unlocker takes the lock back under the bucket lock
//! and hands it to the woken waiter. If another thread took it in between, nobody is woken:
//! `HANDOFF` is set instead, so that thread's unlock takes the slow path and makes the
//! hand-off, and until then no locker (nor `try_lock`) takes the free lock, so the second
//! attempt cannot fail. Before any race is lost the timer is not asked, which spares its
//! clock read on most wakes. No thread starves: a waiter that keeps losing the race to a thread
//! that relocks at once is served within a few of that thread's critical sections
//! (`tests/fairness.rs`), one more at most when a third thread barges; so is a condvar waiter
//! that a notify moved onto such a lock (`tests/fairness_requeued.rs`). `unlock_fair` (and
//! `bump`) keep the lock held while they wake: the hand-off is then exact, the lock never
//! free in between.

use std::cell::Cell;
use std::time::Duration;

use crate::loom::{ConstAtomicU8, Ordering, LOOM};
use crate::park::{self, ParkOptions, ParkResult, UnparkToken};
use crate::table::Key;
use crate::time::Deadline;

const LOCKED: u8 = 1;
const PARKED: u8 = 2;
/// Set with `PARKED` when a condvar's `notify_all` moved waiters onto the mutex; read only by
/// [`RawMutex::wake_next_early`].
const BROADCAST: u8 = 4;
/// Set with `PARKED` when a fair hand-off found the lock taken by another thread: that
/// thread's unlock owes the hand-off, and no locker may take the lock until it is made.
const HANDOFF: u8 = 8;
/// Set with `PARKED` by a locker that was woken, lost the lock to another thread, and parks
/// again: only then does an unlock consult the bucket's fair timer (a clock read). A waiter
/// parked for the first time, or a condvar waiter moved here by a notify, has lost no race
/// yet, so its wake skips the clock. Read only by [`RawMutex::unlock_slow`]; a hint, never
/// read by a decision to park or to skip a wake.
const RETRIED: u8 = 16;
/// Every bit that describes the waiters; cleared together when the last one leaves.
const WAITER_BITS: u8 = PARKED | BROADCAST | HANDOFF | RETRIED;

/// Token for a waiter that must compete for the lock again.
pub(crate) const TOKEN_RETRY: UnparkToken = UnparkToken(0);
/// Token for a waiter that now owns the lock.
pub(crate) const TOKEN_HANDOFF: UnparkToken = UnparkToken(1);
/// Token for a waiter woken ahead of the next unlock by [`RawMutex::wake_next_early`]: it
/// competes for the lock like [`TOKEN_RETRY`], and does not pass the early wake on.
pub(crate) const TOKEN_EARLY: UnparkToken = UnparkToken(2);

/// A one-byte mutual-exclusion lock for [`lock_api`]; use it through [`Mutex`].
///
/// Uncontended `lock` and `unlock` are one atomic read-modify-write each. Under contention a
/// locker spins briefly (only while no thread is parked), then parks on the
/// table; `unlock` wakes the oldest parked thread, and about once a millisecond of wakes hands
/// it the lock directly (eventual fairness).
///
/// Timed locking (`lock_api::RawMutexTimed`) takes a [`Duration`] or a [`Deadline`] as its
/// `Instant`, so `try_lock_until` accepts a wall-clock deadline:
/// `m.try_lock_until(SystemTime::now().into())`.
///
/// No poisoning: a panic while the lock is held releases it when the guard drops, and the
/// next locker proceeds (as `parking_lot` does). Poisoning would cost a flag check on every
/// lock and rarely helps a primitive-level lock whose users check their own invariants.
pub struct RawMutex {
    state: ConstAtomicU8,
}

/// A mutex around a `T`, over [`RawMutex`].
///
/// ```
/// let m = wchan::Mutex::new(vec![1]);
/// m.lock().push(2);
/// assert_eq!(*m.lock(), [1, 2]);
/// assert!(m.try_lock_for(std::time::Duration::from_millis(1)).is_some());
/// ```
pub type Mutex<T> = lock_api::Mutex<RawMutex, T>;

/// The RAII guard of a [`Mutex`]; unlocks on drop.
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, RawMutex, T>;

impl RawMutex {
    fn key(&self) -> Key {
        super::internal_key(self)
    }

    /// The table key the mutex's waiters park on, for a condition variable that requeues.
    pub(crate) fn park_key(&self) -> Key {
        self.key()
    }

    /// Marks that a thread has been requeued onto this mutex, so the next unlock wakes it;
    /// `broadcast`: by a `notify_all` (see [`RawMutex::wake_next_early`]).
    pub(crate) fn mark_parked(&self, broadcast: bool) {
        let bits = if broadcast { PARKED | BROADCAST } else { PARKED };
        self.state.fetch_or(bits, Ordering::Relaxed); // ordered by the bucket lock held
    }

    /// Sets `PARKED` if the lock is held, in the same atomic step as the check, and says
    /// whether it did. One step matters: between a separate check and mark, the owner's
    /// fast-path unlock (which wakes nobody) could free the lock, and a waiter moved here
    /// would sleep on a free mutex. A free mutex is left alone, so a notify does not send
    /// its next lockers and unlockers down the slow path for nothing.
    pub(crate) fn mark_parked_if_locked(&self, broadcast: bool) -> bool {
        let bits = if broadcast { PARKED | BROADCAST } else { PARKED };
        let mut state = self.state.load(Ordering::Relaxed);
        while state & LOCKED != 0 {
            // Relaxed: the caller holds the mutex's bucket lock, which orders this with the
            // owner's slow-path unlock; a fast-path unlock fails this exchange (or after it).
            match self.state.compare_exchange_weak(state, state | bits, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    /// Wakes the oldest thread parked on the mutex, if a `notify_all` moved waiters here
    /// (`BROADCAST`), without releasing anything: it gets [`TOKEN_EARLY`] and competes for
    /// the lock. A condvar waiter that `notify_all` woke directly, or that an unlock woke off
    /// this queue, calls this before it takes the lock, so the next waiter's wake-up runs
    /// while it holds the lock, instead of only after its unlock. On a machine with more than
    /// one CPU, the moved waiters of a `notify_all` then wake alongside the running ones
    /// instead of in a chain of single wake-ups that each land on an idle CPU. Without `BROADCAST` (a queue of plain lockers, or a waiter that
    /// `notify_one` moved) it does nothing: waking a locker early only makes it park again.
    pub(crate) fn wake_next_early(&self) {
        // Not while a hand-off is owed: the oldest waiter gets the lock itself, soon.
        if self.state.load(Ordering::Relaxed) & (BROADCAST | HANDOFF) != BROADCAST {
            return;
        }
        park::unpark_one_on(self.key(), |result| {
            if !result.have_more {
                // Under the bucket lock, with nobody left queued: a locker that parks later
                // sets PARKED again before its validate (which needs this lock) runs.
                self.state.fetch_and(!WAITER_BITS, Ordering::Relaxed);
            }
            TOKEN_EARLY
        });
    }

    /// Whether the lock is held (a snapshot).
    pub(crate) fn locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    #[cold]
    fn lock_slow(&self, deadline: Option<Deadline>) -> bool {
        let mut spins = SpinWait::new();
        // Woken at least once and still without the lock: the next park announces RETRIED.
        let mut retried = false;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            // Free and not owed to the oldest waiter: take it, even if others are parked.
            if state & (LOCKED | HANDOFF) == 0 {
                // Acquire: pairs with the Release of the unlock that freed it.
                match self.state.compare_exchange_weak(state, state | LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(now) => state = now,
                }
                continue;
            }
            // Held, and nobody parked yet: spin a little (never under loom).
            if state & PARKED == 0 && !LOOM && spins.spin() {
                state = self.state.load(Ordering::Relaxed);
                continue;
            }
            // Announce that a thread is about to park (and, after a lost race, that it wants
            // the fair timer consulted).
            let announce = if retried { PARKED | RETRIED } else { PARKED };
            if state & announce != announce {
                if let Err(now) =
                    self.state.compare_exchange_weak(state, state | announce, Ordering::Relaxed, Ordering::Relaxed)
                {
                    state = now;
                    continue;
                }
            }
            let result = park::park_on(
                self.key(),
                ParkOptions::new().deadline(deadline),
                |_| {
                    // Park only if an unlock is still to come: the lock is held, or it is
                    // free with a hand-off owed, whose unlocker is on its way to this lock.
                    let state = self.state.load(Ordering::Relaxed);
                    state & PARKED != 0 && state & (LOCKED | HANDOFF) != 0
                },
                || {},
                |_, was_last| {
                    if was_last {
                        self.state.fetch_and(!WAITER_BITS, Ordering::Relaxed);
                    }
                },
            );
            match result {
                // The unlocker kept the lock held for us; its writes reach us through the
                // parker's Release/Acquire.
                ParkResult::Unparked(TOKEN_HANDOFF) => return true,
                ParkResult::TimedOut => return false,
                // Woken to compete: if the lock is taken again before we get it, our next
                // park asks for fairness.
                ParkResult::Unparked(_) => retried = true,
                _ => {}
            }
            spins = SpinWait::new();
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// The rest of an unlock that found `PARKED`: the lock is already released. Wakes the
    /// oldest waiter; hands it the lock when that is due (the bucket's fair timer, or a
    /// hand-off owed since a previous attempt found the lock taken). The timer, and its clock
    /// read, are consulted only if a waiter has lost a race since the waiter bits were last
    /// cleared (`RETRIED`), or always under loom, where the timer is the model's answer
    /// (`wchan::loom::fair_wakes`).
    #[cold]
    fn unlock_slow(&self) {
        // A fresh load, not the value `unlock`'s subtraction returned: using that value would
        // turn the `lock decb` into a `lock xadd`, slower on the fast path here. Relaxed: a
        // hint; a RETRIED set just after this load is seen by the next unlock.
        let want_fair = LOOM || self.state.load(Ordering::Relaxed) & RETRIED != 0;
        park::unpark_one_or_keep_on(self.key(), want_fair, |result| {
            if result.unparked == 0 {
                // Nobody queued (the last waiter gave up or was woken by another unlock):
                // the waiter bits are stale. Keep LOCKED as it is: another thread may hold it.
                self.state.fetch_and(!WAITER_BITS, Ordering::Relaxed);
                return Some(TOKEN_RETRY);
            }
            let mut state = self.state.load(Ordering::Relaxed);
            if result.be_fair || state & HANDOFF != 0 {
                // Take the lock back for the woken thread; those still queued keep PARKED.
                loop {
                    if state & LOCKED != 0 {
                        // The design before HANDOFF: the woken thread merely competes, and
                        // may lose to any number of later lockers.
                        #[cfg(wchan_bug = "handoff_not_owed")] // deliberate bug for loom-tests
                        return Some(TOKEN_RETRY);
                        // Taken since our release, before any HANDOFF could stop it. Wake
                        // nobody: the taker's unlock sees HANDOFF, comes here, and hands over.
                        #[cfg(not(wchan_bug = "handoff_not_owed"))]
                        {
                            self.state.fetch_or(HANDOFF, Ordering::Relaxed);
                            return None;
                        }
                    }
                    let kept = if result.have_more { state & (PARKED | BROADCAST | RETRIED) } else { 0 };
                    // Acquire: a thread that took and released the lock since our release
                    // wrote in between; the woken thread gets those writes and ours through
                    // the parker's Release/Acquire.
                    match self.state.compare_exchange_weak(state, LOCKED | kept, Ordering::Acquire, Ordering::Relaxed) {
                        Ok(_) => return Some(TOKEN_HANDOFF),
                        Err(now) => state = now,
                    }
                }
            }
            #[cfg(wchan_bug = "unlock_clears_parked")] // deliberate bug for loom-tests: PARKED dropped
            let result = park::UnparkResult { have_more: false, ..result };
            if !result.have_more {
                // Under the bucket lock, with the last waiter leaving: a locker that parks
                // later sets PARKED again before its validate (which needs this lock) runs.
                self.state.fetch_and(!WAITER_BITS, Ordering::Relaxed);
            }
            Some(TOKEN_RETRY)
        });
    }

    /// `unlock_fair` with a thread parked: the lock is still held, and passes to the oldest
    /// waiter without ever being free, so no other unlock can wake that waiter first and no
    /// locker can take the lock in between (also pays a `HANDOFF` owed to it).
    #[cold]
    fn unlock_fair_slow(&self) {
        park::unpark_one_on(self.key(), |result| {
            if result.unparked > 0 {
                // Hand over: the lock stays held; those still queued keep PARKED.
                let kept = if result.have_more { PARKED | BROADCAST | RETRIED } else { 0 };
                self.state.fetch_and(LOCKED | kept, Ordering::Relaxed);
                return TOKEN_HANDOFF;
            }
            // Nobody queued: release, and clear the stale waiter bits. Release: pairs with the
            // next locker's Acquire.
            self.state.swap(0, Ordering::Release);
            TOKEN_RETRY
        });
    }
}

#[cfg(not(loom))]
std::thread_local! {
    /// The address of the last mutex this thread unlocked. Const-initialized, no destructor:
    /// a plain TLS access, usable from any thread-local destructor.
    static LAST_UNLOCKED: Cell<usize> = const { Cell::new(0) };
}

#[cfg(loom)]
loom::thread_local! {
    /// As above, per model thread and afresh in every execution, so the models explore both
    /// forms of the unlock.
    static LAST_UNLOCKED: Cell<usize> = Cell::new(0);
}

/// The address of the last mutex this thread unlocked (0 before its first unlock). It
/// chooses the unlock's instruction. The same mutex again: the thread keeps taking this one
/// lock, alone (`mutex_uncontended`) or as the owner that relocks it at once
/// (`mutex_contended_*`), and the lock's cache line most likely stayed in this CPU's cache,
/// where the subtraction (`lock decb` on x86-64) is the cheaper unlock. Another mutex: the
/// thread moves between locks, whose lines other CPUs take too (`mutex_many_locks_4`), and on
/// the machine measured (Zen 3) a compare-exchange unlock is about 2 ns cheaper there
/// (`docs/benchmarks.md`, "Mutex: which unlock instruction"). A wrong guess costs speed only:
/// both forms are correct in every state.
#[inline]
fn last_unlocked() -> usize {
    // `try_with`: this thread-local has no destructor, so it is never gone; if it were, 0
    // picks the compare-exchange, which is correct too.
    LAST_UNLOCKED.try_with(Cell::get).unwrap_or(0)
}

/// Records `addr` as the last mutex this thread unlocked. Only when it changes: a thread that
/// keeps unlocking one mutex stores nothing, so no store sits in front of its `lock decb` (on
/// x86-64 a locked instruction waits until earlier stores have drained; storing on every
/// unlock read 0.04x worse on `mutex_contended_2`, `docs/benchmarks.md`).
#[inline]
fn set_last_unlocked(addr: usize) {
    let _ = LAST_UNLOCKED.try_with(|last| last.set(addr));
}

/// The bounded spin before parking: three rounds of 16, 32 and 64 CPU pause hints (112 in
/// all, about 2.6 µs on the Zen 5 development machine), then the locker parks.
///
/// The first round is long on purpose. Every look at the lock byte takes its cache line from
/// the holder, whose next lock or unlock must take it back, and a look that lands between two
/// of the holder's acquisitions finds the lock free and takes it over. Rounds that started at
/// 2 pauses looked every 50-200 ns at first, and a holder of a busy lock kept it for about 5
/// acquisitions in a row; from 16 pauses it keeps it for about 70. On Zen 5,
/// `mutex_contended_2` and `_8` went from 0.96x and 1.28x the best other's time to 0.62x and
/// 0.80x (medians of nine runs, in the machine's fast state), the queue and the pool no worse
/// (`docs/benchmarks.md`, "The first spin round").
///
/// Spinning about as long as a block costs is the competitive bound for a wait of unknown
/// length (Karlin, Li, Manasse and Owicki, "Empirical Studies of Competitive Spinning for a
/// Shared-Memory Multiprocessor", SOSP 1991). A block and its wake cost 4.5 µs on the Zen 3
/// machine and 1.7 µs on the Zen 5 one. There, two rounds (within the bound) lost
/// `mutex_contended_8` again: the spinners parked, and their CPU went to another of the
/// eight threads, which started looking at the lock afresh.
///
/// In a process that may run on one CPU only (`crate::cpus::runnable`), six rounds each
/// yield instead: the holder cannot release the lock while this thread keeps the CPU.
///
/// `--cfg wchan_spin_yield` builds parking_lot's schedule (2, 4 and 8 pauses, then up to
/// seven yields), which `docs/benchmarks.md` measures against this one: its yields make
/// `queue_mpmc_4x4` block about twice as often, and it is slower on the queue and the pool.
struct SpinWait {
    rounds: u32,
    /// Whether the rounds pause (more than one CPU: `crate::cpus::runnable`, asked once, at
    /// the first round) or yield.
    pause: bool,
}

/// Pause hints in the first round; each later pausing round doubles them.
const FIRST_PAUSES: u32 = if cfg!(wchan_spin_yield) { 2 } else { 16 };
/// Rounds that pause (with more than one CPU); the rounds after them yield.
const PAUSE_ROUNDS: u32 = 3;
/// Rounds before parking with more than one CPU.
const SPIN_ROUNDS: u32 = if cfg!(wchan_spin_yield) { 10 } else { PAUSE_ROUNDS };
/// Rounds before parking on one CPU, where every round yields.
const YIELD_ROUNDS: u32 = if cfg!(wchan_spin_yield) { 10 } else { 6 };

impl SpinWait {
    fn new() -> SpinWait {
        SpinWait { rounds: 0, pause: false }
    }

    /// One round; false once the budget is spent.
    fn spin(&mut self) -> bool {
        if self.rounds == 0 {
            // A thread-local read, and a fresh read of the masks once in `cpus::REFRESH` asks.
            self.pause = crate::cpus::runnable() > 1;
        }
        if self.rounds >= if self.pause { SPIN_ROUNDS } else { YIELD_ROUNDS } {
            return false;
        }
        self.rounds += 1;
        if self.pause && self.rounds <= PAUSE_ROUNDS {
            for _ in 0..FIRST_PAUSES << (self.rounds - 1) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        true
    }
}

// SAFETY: the lock grants exclusive access between a successful lock and the matching
// unlock: `LOCKED` is set by exactly one successful compare-exchange (or kept set across a
// hand-off to exactly one woken thread) and cleared only by the owner.
unsafe impl lock_api::RawMutex for RawMutex {
    #[allow(clippy::declare_interior_mutable_const)] // required by lock_api: a fresh lock
    const INIT: RawMutex = RawMutex { state: ConstAtomicU8::new(0) };

    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        // Acquire: pairs with the Release of the previous unlock.
        if self.state.compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_slow(None);
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        // A lock owed to its oldest waiter (HANDOFF) counts as held.
        while state & (LOCKED | HANDOFF) == 0 {
            match self.state.compare_exchange_weak(state, state | LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    #[inline]
    unsafe fn unlock(&self) {
        // Release (both forms): publishes the critical section to the next locker. Each
        // clears exactly LOCKED, which we own; which one runs is only a matter of speed
        // (`last_unlocked`). The exchange's failure ordering is Relaxed: a failed exchange
        // changed nothing, and the value it read is not used.
        let me = self as *const RawMutex as usize;
        if last_unlocked() != me {
            let released = self.state.compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed);
            // After the release, so the store does not delay it.
            set_last_unlocked(me);
            match released {
                Ok(_) => return,
                // Waiter bits are set: release below, then wake.
                #[cfg(not(wchan_bug = "cas_unlock_drops_waiters"))]
                Err(_) => {}
                // Deliberate bug for loom-tests: a failed exchange just releases, waking nobody.
                #[cfg(wchan_bug = "cas_unlock_drops_waiters")]
                Err(_) => return self.state.store(0, Ordering::Release),
            }
        }
        // A subtraction: it cannot fail.
        if self.state.fetch_sub(LOCKED, Ordering::Release) != LOCKED {
            self.unlock_slow();
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.locked()
    }
}

// SAFETY: as for `RawMutex`; a fair unlock hands the held lock to exactly one woken thread.
unsafe impl lock_api::RawMutexFair for RawMutex {
    #[inline]
    unsafe fn unlock_fair(&self) {
        // Release: as in `unlock`. A compare-exchange: with waiters, the lock stays held for
        // the hand-off.
        if self.state.compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed).is_err() {
            self.unlock_fair_slow();
        }
    }

    #[inline]
    unsafe fn bump(&self) {
        if self.state.load(Ordering::Relaxed) & PARKED != 0 {
            self.unlock_fair_slow();
            lock_api::RawMutex::lock(self);
        }
    }
}

// SAFETY: timed locking only adds a way to give up; success still means exclusive ownership.
unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = Duration;
    /// A [`Deadline`]: an `Instant` (monotonic) or a `SystemTime` (wall clock) converts into
    /// one with `.into()`.
    type Instant = Deadline;

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> bool {
        lock_api::RawMutex::try_lock(self) || self.lock_slow(Some(Deadline::after(timeout)))
    }

    #[inline]
    fn try_lock_until(&self, deadline: Deadline) -> bool {
        lock_api::RawMutex::try_lock(self) || self.lock_slow(Some(deadline))
    }
}

impl std::fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMutex").field("locked", &self.locked()).finish()
    }
}
