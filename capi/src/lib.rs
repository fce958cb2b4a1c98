//! OpenBSD's `__thrsleep(2)` / `__thrwakeup(2)` C ABI, and the `_spinlock` family that goes
//! with it, over wchan's wait-channel table. The header is `include/wchan/thrsleep.h`.
//!
//! The C face and the Rust face share one table: `__thrsleep(X, …)` is a
//! [`wchan::Sleep::on`]`(X)` and `__thrwakeup(X, n)` a [`wchan::wakeup`]`(X, n)`, so a C thread
//! asleep on X is woken by Rust's `wakeup(X, n)` and the other way round (in one process, with
//! one copy of wchan linked in).
//!
//! # The lock word
//!
//! `_atomic_lock_t` is an `int` with two states, as in OpenBSD:
//!
//! | value | meaning |
//! |---|---|
//! | `0` (`_ATOMIC_LOCK_UNLOCKED`) | free |
//! | `1` (`_ATOMIC_LOCK_LOCKED`) | held |
//!
//! No third state: C code may read the word. A thread that cannot take the lock spins
//! briefly, yields a few times, then parks in wchan's table on the word's address (in the
//! `park` key space, which no channel shares, so a `__thrsleep` on the lock's own address
//! never meets a spinning locker). Every release, by `_spinunlock` or by `__thrsleep`, is a
//! release store of 0 followed by a wake of one parked locker (a fence and a load when none
//! is parked), so a thread waiting in `_spinlock` while `__thrsleep` releases the lock gets
//! it. Release the word only through these two calls: a plain `*lock = 0` from C leaves a
//! parked locker asleep.
//!
//! # `__thrsleep`, in OpenBSD's order
//!
//! As `thrsleep()` and `sys___thrsleep()` in OpenBSD's `sys/kern/kern_synch.c` (rev 1.198,
//! 2023/08/16; 1.170 reads the same):
//! 1. `EINVAL`, with nothing queued and **the lock not released**, for `tv_nsec` outside
//!    `[0, 10^9)`, a NULL `id`, or (only when `abstime` is not NULL) a clock other than
//!    `CLOCK_REALTIME`/`CLOCK_MONOTONIC`. OpenBSD returns each of these before
//!    `thrsleep_unlock()` runs; here also a misaligned `lock` or `abort` pointer.
//! 2. A deadline at or before now: the lock is released, `EWOULDBLOCK` (no abort check).
//! 3. Queue on `id`; release the lock (release store + wake of a parked locker); read
//!    `*abort`: non-zero is `EINTR` without blocking.
//! 4. Block until a `__thrwakeup` dequeues the thread (0), the deadline passes
//!    (`EWOULDBLOCK`), or a signal handler runs on the thread (`EINTR`, Linux).
//!
//! A thread that a `__thrwakeup` dequeued returns 0 even if its deadline or a signal came at
//! the same time, so `__thrwakeup`'s count is exact.
//!
//! Differences from OpenBSD, all documented in the header: the `id` `-1` (OpenBSD's
//! process-shared queue) is an ordinary address here; a signal whose handler has `SA_RESTART`
//! gives `EINTR` (OpenBSD turns `ERESTART` into `ECANCELED`); a negative count to
//! `__thrwakeup` is `EINVAL` (OpenBSD's loop `if (++found == n) break;` never stops for
//! `n < 0` and so wakes all).
//!
//! # No unwinding across the ABI
//!
//! Every exported function runs its body under [`std::panic::catch_unwind`]; a panic (a bug,
//! or a contract violation that can only be reported that way, like a misaligned lock
//! pointer to `_spinlock`) prints one line to stderr and aborts the process. Errors the ABI
//! can express are returned as the errno number itself, never -1.
#![warn(missing_docs, unsafe_op_in_unsafe_fn)]

use std::ffi::{c_int, c_void};
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use libc::{clockid_t, timespec};
use wchan::park::{self, ParkOptions, DEFAULT_UNPARK_TOKEN};
use wchan::{Deadline, Error, Sleep, Timespec};

/// OpenBSD's `_atomic_lock_t`: an `int`, 0 unlocked, 1 locked.
#[allow(non_camel_case_types)]
pub type _atomic_lock_t = c_int;
/// The free state of an [`_atomic_lock_t`].
pub const _ATOMIC_LOCK_UNLOCKED: _atomic_lock_t = 0;
/// The held state of an [`_atomic_lock_t`].
pub const _ATOMIC_LOCK_LOCKED: _atomic_lock_t = 1;

/// Checks with the lock word before parking: spins with exponential backoff `2^0 .. 2^9`.
const SPIN_ROUNDS: u32 = 10;
/// Then yields the CPU this many times before parking.
const YIELD_ROUNDS: u32 = 3;

/// A C `_atomic_lock_t` used as a lock: `lock` is `_spinlock`, `unlock` is `_spinunlock`.
#[repr(transparent)]
pub struct SpinWord(AtomicI32);

impl SpinWord {
    /// The lock word at `ptr`, or `None` for NULL.
    ///
    /// # Safety
    /// A non-null `ptr` is aligned for `int` (checked by the callers), valid for reads and
    /// writes, and only accessed atomically by other threads while `'a` lasts.
    unsafe fn from_ptr<'a>(ptr: *const c_void) -> Option<&'a SpinWord> {
        // SAFETY: forwarded from the caller; `SpinWord` is a transparent `AtomicI32`, which
        // has the size and alignment of `int`.
        unsafe { ptr.cast::<SpinWord>().as_ref() }
    }

    /// The park key of this word: its address, in the `park` space that capi owns for lock
    /// words (parks only in [`SpinWord::lock_slow`], unparks only in [`SpinWord::unlock`]).
    fn key(&self) -> usize {
        self as *const SpinWord as usize
    }

    #[cold]
    fn lock_slow(&self) {
        let mut round = 0;
        loop {
            // Relaxed peek first, so waiters do not bounce the cache line with failed RMWs.
            if self.0.load(Ordering::Relaxed) == _ATOMIC_LOCK_UNLOCKED && lock_api::RawMutex::try_lock(self) {
                return;
            }
            if round < SPIN_ROUNDS {
                (0..1u32 << round).for_each(|_| std::hint::spin_loop());
            } else if round < SPIN_ROUNDS + YIELD_ROUNDS {
                std::thread::yield_now();
            } else {
                // Sleep while the word still says "held". Relaxed is enough: the table raises
                // its sleeper count and fences (SeqCst) before this check, and `unlock`
                // stores 0 then fences before reading that count (Dekker): either this
                // check sees 0, or `unlock` sees us and wakes us.
                // SAFETY: the key is this lock word's address, and every park and unpark on
                // it follows this protocol ("park while held; each release wakes one").
                unsafe {
                    park::park(
                        self.key(),
                        ParkOptions::new(),
                        || self.0.load(Ordering::Relaxed) != _ATOMIC_LOCK_UNLOCKED,
                        || {},
                        |_, _| {},
                    );
                }
                // Woken by a release (or the word was free already): spin a little again.
                round = SPIN_ROUNDS - 2;
                continue;
            }
            round += 1;
        }
    }
}

// SAFETY: `try_lock` succeeds only by moving the word from 0 to 1 (Acquire), `unlock` moves it
// back (Release); one holder at a time, and the holder's writes are seen by the next.
unsafe impl lock_api::RawMutex for SpinWord {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: SpinWord = SpinWord(AtomicI32::new(_ATOMIC_LOCK_UNLOCKED));
    type GuardMarker = lock_api::GuardSend;

    fn lock(&self) {
        if !self.try_lock() {
            self.lock_slow();
        }
    }

    fn try_lock(&self) -> bool {
        // Acquire: pairs with the Release store of the previous holder's unlock.
        self.0
            .compare_exchange(_ATOMIC_LOCK_UNLOCKED, _ATOMIC_LOCK_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    unsafe fn unlock(&self) {
        // Release: pairs with the next holder's Acquire in `try_lock`.
        self.0.store(_ATOMIC_LOCK_UNLOCKED, Ordering::Release);
        // One parked locker, if any, retries. `unpark_n` fences (SeqCst) before it reads the
        // bucket's sleeper count and takes no lock when it is zero.
        // SAFETY: this word's key, used only by this protocol (see `key`).
        unsafe { park::unpark_n(self.key(), 1, DEFAULT_UNPARK_TOKEN) };
    }

    fn is_locked(&self) -> bool {
        self.0.load(Ordering::Relaxed) != _ATOMIC_LOCK_UNLOCKED
    }
}

/// What `__thrsleep` does once the thread is queued: release the caller's lock word (if
/// any), then read `*abort` (if any), in OpenBSD's order. wchan's [`Sleep::unlocking_raw`]
/// calls [`lock_api::RawMutex::unlock`] at exactly that point, so this is that "lock"; the
/// abort it reads is handed to the sleep through `aborted`, which [`Sleep::abort_if`] checks
/// right after, before blocking.
struct ReleaseThenReadAbort<'a> {
    word: Option<&'a SpinWord>,
    abort: Option<&'a AtomicI32>,
    aborted: Option<&'a AtomicBool>,
}

// SAFETY: locking locks the word (if any) as `SpinWord` does; unlocking releases it. Used only
// by `__thrsleep`, whose caller holds the word.
unsafe impl lock_api::RawMutex for ReleaseThenReadAbort<'_> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = ReleaseThenReadAbort { word: None, abort: None, aborted: None };
    type GuardMarker = lock_api::GuardNoSend;

    fn lock(&self) {
        self.word.into_iter().for_each(lock_api::RawMutex::lock);
    }

    fn try_lock(&self) -> bool {
        self.word.map_or(true, lock_api::RawMutex::try_lock)
    }

    unsafe fn unlock(&self) {
        if let Some(word) = self.word {
            // SAFETY: forwarded: `__thrsleep`'s caller holds the word.
            unsafe { lock_api::RawMutex::unlock(word) };
        }
        if let (Some(abort), Some(aborted)) = (self.abort, self.aborted) {
            // Relaxed, as wchan reads its own abort flag: the flag carries no data, and a
            // thread that sets it and then calls `__thrwakeup` is ordered by the table's
            // fences (the read happens after this thread was queued).
            let set = abort.load(Ordering::Relaxed) != 0;
            // Relaxed: read back by this same thread, in `Sleep::wait`.
            aborted.store(set, Ordering::Relaxed);
        }
    }
}

/// Runs an exported function's body; a panic never unwinds into C: it is reported on stderr
/// and the process aborts.
fn no_unwind<T>(function: &str, body: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            // The payload's drop could itself panic: never run it.
            std::mem::forget(payload);
            let _ = writeln!(std::io::stderr(), "wchan-capi: panic in {function}; aborting (no unwinding into C)");
            std::process::abort()
        }
    }
}

/// Whether `ptr` is aligned for `T` (NULL is).
fn aligned<T>(ptr: *const c_void) -> bool {
    (ptr as usize) % std::mem::align_of::<T>() == 0
}

/// The absolute deadline `abstime` on `clock_id`, `Ok(None)` for no deadline; `EINVAL` for a
/// bad `tv_nsec`, an unknown clock or a misaligned pointer.
///
/// # Safety
/// A non-null `abstime` points to a readable `struct timespec`.
unsafe fn deadline(clock_id: clockid_t, abstime: *const timespec) -> Result<Option<Deadline>, Error> {
    if !aligned::<timespec>(abstime.cast()) {
        return Err(Error::InvalidArgument);
    }
    // SAFETY: non-null (checked by `as_ref`), aligned (checked above), readable (caller).
    let Some(ts) = (unsafe { abstime.as_ref() }) else { return Ok(None) };
    #[allow(clippy::useless_conversion)] // time_t and c_long are i32 on some targets
    let at = Timespec::new(i64::from(ts.tv_sec), i64::from(ts.tv_nsec));
    // OpenBSD checks tv_nsec (`timespecisvalid`) before the id, and the clock only when
    // there is a deadline (`clock_gettime` inside `if (tsp != NULL)`); all are EINVAL.
    if !at.is_normalized() {
        return Err(Error::InvalidArgument);
    }
    Deadline::from_raw(clock_id, at).map(Some)
}

/// Sleeps on `id`; see the header for the full contract.
///
/// # Safety
/// `abstime`, `lock` and `abort` are NULL or point to live, `int`- / `timespec`-aligned
/// objects for the whole call; `lock` is held by the caller; `*lock` and `*abort` are accessed
/// only atomically (or by these functions) by other threads meanwhile.
#[no_mangle]
pub unsafe extern "C" fn __thrsleep(
    id: *const c_void,
    clock_id: clockid_t,
    abstime: *const timespec,
    lock: *mut c_void,
    abort: *const c_int,
) -> c_int {
    // SAFETY: forwarded from the caller.
    no_unwind("__thrsleep", || match unsafe { thrsleep(id, clock_id, abstime, lock, abort) } {
        Ok(()) => 0,
        Err(e) => e.errno(),
    })
}

/// The body of [`__thrsleep`].
///
/// # Safety
/// As for [`__thrsleep`].
unsafe fn thrsleep(
    id: *const c_void,
    clock_id: clockid_t,
    abstime: *const timespec,
    lock: *mut c_void,
    abort: *const c_int,
) -> Result<(), Error> {
    // 1. Every EINVAL first, with the lock untouched.
    // SAFETY: forwarded from the caller.
    let deadline = unsafe { deadline(clock_id, abstime) }?;
    if id.is_null() || !aligned::<c_int>(lock) || !aligned::<c_int>(abort.cast()) {
        return Err(Error::InvalidArgument);
    }
    // SAFETY: aligned (checked), live and held by the caller for the call.
    let word = unsafe { SpinWord::from_ptr(lock) };
    // SAFETY: aligned (checked), live for the call; `AtomicI32` has `int`'s layout.
    let abort = unsafe { abort.cast::<AtomicI32>().as_ref() };

    // 2-4. Queue, release, read the abort flag, block: wchan's sleep, in that order.
    let aborted = AtomicBool::new(false);
    let release = ReleaseThenReadAbort { word, abort, aborted: Some(&aborted) };
    // SAFETY: the caller holds `word` (if any) and hands its release to this call; the
    // release also reads `*abort`, which is not a lock and needs no holding.
    let sleep = unsafe { Sleep::on(id).unlocking_raw(&release) }.abort_if(&aborted);
    match deadline {
        Some(d) => sleep.until(d).wait(),
        None => sleep.wait(),
    }
}

/// Wakes up to `count` threads asleep on `id` (all when `count` is 0); see the header.
#[no_mangle]
pub extern "C" fn __thrwakeup(id: *const c_void, count: c_int) -> c_int {
    no_unwind("__thrwakeup", || {
        let Ok(n) = usize::try_from(count) else { return libc::EINVAL };
        match wchan::wakeup(id, n) {
            Ok(_) => 0,
            Err(e) => e.errno(),
        }
    })
}

/// The lock word at `lock`, for the `_spin*` functions: a NULL or misaligned pointer has no
/// error to return, so it is a contract violation reported by a panic (caught, then abort).
///
/// # Safety
/// As for [`_spinlock`].
unsafe fn word<'a>(function: &str, lock: *mut _atomic_lock_t) -> &'a SpinWord {
    assert!(aligned::<c_int>(lock.cast()), "{function}: lock {lock:p} is not aligned for int");
    // SAFETY: aligned (checked), live for the call (caller).
    unsafe { SpinWord::from_ptr(lock.cast()) }.unwrap_or_else(|| panic!("{function}: NULL lock"))
}

/// Takes the lock: spins briefly, yields, then sleeps until a release.
///
/// # Safety
/// `lock` points to a live, `int`-aligned `_atomic_lock_t` accessed only through these
/// functions and `__thrsleep` (or atomically) while any thread uses it.
#[no_mangle]
pub unsafe extern "C" fn _spinlock(lock: *mut _atomic_lock_t) {
    // SAFETY: forwarded from the caller.
    no_unwind("_spinlock", || lock_api::RawMutex::lock(unsafe { word("_spinlock", lock) }))
}

/// Takes the lock if it is free: 1 if taken, 0 if not. Never blocks.
///
/// # Safety
/// As for [`_spinlock`].
#[no_mangle]
pub unsafe extern "C" fn _spinlocktry(lock: *mut _atomic_lock_t) -> c_int {
    // SAFETY: forwarded from the caller.
    no_unwind("_spinlocktry", || c_int::from(lock_api::RawMutex::try_lock(unsafe { word("_spinlocktry", lock) })))
}

/// Releases the lock (a release store of 0) and wakes one thread sleeping in `_spinlock`.
///
/// # Safety
/// As for [`_spinlock`], and the caller holds the lock.
#[no_mangle]
pub unsafe extern "C" fn _spinunlock(lock: *mut _atomic_lock_t) {
    // SAFETY: forwarded from the caller, who holds the lock.
    no_unwind("_spinunlock", || unsafe { lock_api::RawMutex::unlock(word("_spinunlock", lock)) })
}

/// Ends the calling thread's `__thrsleep` in progress with `EINTR`, unless a `__thrwakeup`
/// already dequeued it; does nothing outside a sleep. Async-signal-safe: for a signal handler
/// that has just set the sleep's abort flag, closing the window between `__thrsleep`'s read of
/// `*abort` and the kernel wait that OpenBSD's kernel closes by checking for pending signals
/// (see [`wchan::interrupt`]). Declared in `include/wchan/interrupt.h`.
#[no_mangle]
pub extern "C" fn wchan_interrupt() {
    no_unwind("wchan_interrupt", wchan::interrupt)
}
