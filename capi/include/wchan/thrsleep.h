/*
 * wchan/thrsleep.h: OpenBSD's __thrsleep(2) / __thrwakeup(2) and the _spinlock family,
 * provided by wchan-capi (libwchan_capi.a / libwchan_capi.so) over wchan's wait-channel
 * table. C99, usable from C++.
 *
 * Build and link:
 *     cargo build --release -p wchan-capi
 *     cc -I capi/include prog.c target/release/libwchan_capi.a \
 *        -lgcc_s -lutil -lrt -lpthread -lm -ldl
 * or, with the shared library:
 *     cc -I capi/include prog.c -Ltarget/release -lwchan_capi
 * The header compiles as strict ISO C99 and as C++; CLOCK_MONOTONIC and friends come from
 * <time.h> under POSIX (the compiler's default gnu modes, or _POSIX_C_SOURCE=200809L).
 *
 * The semantics follow OpenBSD's kernel, sys/kern/kern_synch.c rev 1.198 (2023/08/16),
 * functions thrsleep(), sys___thrsleep() and sys___thrwakeup(); the lock functions follow
 * lib/libc/thread/rthread.c rev 1.5 (2017/10/28). Differences are marked "Unlike OpenBSD".
 * Both calls return the error number itself, never -1, and never set errno.
 *
 * One table for C and Rust: a thread asleep in __thrsleep(X, ...) is woken by Rust's
 * wchan::wakeup(X, n) and a Rust wchan::Sleep::on(X) by __thrwakeup(X, n), when the
 * program links a single copy of wchan (the static library, or the Rust crate wchan-capi).
 */
#ifndef WCHAN_THRSLEEP_H
#define WCHAN_THRSLEEP_H

#include <sys/types.h> /* clockid_t, also in strict ISO C modes */
#include <time.h>

/* Strict ISO C99 <time.h> (glibc) does not declare it; a tag declaration is harmless where
 * it does, and keeps the prototype below meaning the one struct timespec in every mode. */
struct timespec;

#ifdef __cplusplus
extern "C" {
#endif

typedef int _atomic_lock_t;          /* 0 unlocked, 1 locked */
#define _ATOMIC_LOCK_UNLOCKED 0
#define _ATOMIC_LOCK_LOCKED   1
#define _SPINLOCK_UNLOCKED    _ATOMIC_LOCK_UNLOCKED

/*
 * __thrsleep: sleep on the address id until a __thrwakeup(id, ...) takes the thread off its
 * queue.
 *
 * In order:
 *  1. EINVAL, with NOTHING queued and the lock NOT released (the caller still holds it),
 *     in every one of these cases: abstime->tv_nsec outside [0, 1000000000); id NULL;
 *     abstime not NULL and clock_id neither CLOCK_REALTIME nor CLOCK_MONOTONIC (with a NULL
 *     abstime the clock is not used and not checked, as in OpenBSD); lock or abort not
 *     aligned for int, abstime not aligned for struct timespec. OpenBSD returns each of its
 *     EINVALs before it touches the lock, too.
 *  2. abstime at or before the current time of clock_id: the lock is released and
 *     EWOULDBLOCK returned at once (abort is not read).
 *  3. The thread is queued on id, THEN the lock (if not NULL) is released with a release
 *     store of _ATOMIC_LOCK_UNLOCKED, waking one thread waiting in _spinlock on it: a
 *     thread that takes the lock after this and calls __thrwakeup(id, ...) finds the
 *     sleeper. THEN *abort is read (if abort is not NULL): non-zero returns EINTR without
 *     blocking.
 *  4. The thread blocks until: a __thrwakeup dequeues it (returns 0); the absolute abstime
 *     on clock_id passes (EWOULDBLOCK; never early; a CLOCK_REALTIME deadline follows
 *     changes of the wall clock); a signal handler runs on the thread (EINTR; Linux).
 * A thread that a __thrwakeup dequeued returns 0, even if its deadline or a signal came at
 * the same moment. From step 2 on, the lock has been released whatever the outcome.
 *
 * Unlike OpenBSD: a signal whose handler was installed with SA_RESTART also gives EINTR
 * (OpenBSD returns ECANCELED); id (void *)-1 is an ordinary address (OpenBSD's queue shared
 * between processes is not provided); on targets without a native wait-on-address call
 * (wchan's portable parker) signals do not end the sleep. A signal handler that sets *abort
 * just after step 3 read it does not end the sleep here (OpenBSD's kernel sees the pending
 * signal); have the handler call wchan_interrupt() (wchan/interrupt.h) after setting the
 * flag, or wake the thread with __thrwakeup.
 *
 * Pointers: id is only compared, never dereferenced. abstime, lock and abort must be NULL or
 * point to live objects for the whole call; *lock must be held by the caller and is
 * accessed atomically; *abort is read once, atomically (as a relaxed load).
 */
int  __thrsleep(const volatile void *id, clockid_t clock_id, const struct timespec *abstime, volatile void *lock, const int *abort);

/*
 * __thrwakeup: take up to count threads asleep on id off its queue, oldest first, and wake
 * them; count 0 wakes all of them.
 * Returns 0 if it woke at least one, ESRCH if none was asleep on id, EINVAL if id is NULL
 * or count is negative (unlike OpenBSD, whose loop never reaches a negative count and so
 * wakes all). With nobody asleep in id's bucket it takes no lock and makes no system call.
 */
int  __thrwakeup(const volatile void *id, int count);

/*
 * The spinlock __thrsleep releases. lock must point to a live, int-aligned _atomic_lock_t
 * (initialised to _SPINLOCK_UNLOCKED) that is only changed through these three functions and
 * __thrsleep while threads use it; release it only with _spinunlock or __thrsleep, never
 * with a plain store (a thread sleeping in _spinlock would not be woken). A NULL or
 * misaligned lock is reported on stderr and aborts the process.
 *
 * _spinlock spins briefly, yields, then sleeps until the lock is released: it does not burn
 * a core while the holder is asleep (OpenBSD's loops on sched_yield). Acquire semantics.
 * _spinlocktry takes the lock only if it is free; never blocks.
 * _spinunlock stores _ATOMIC_LOCK_UNLOCKED (release) and wakes one sleeping _spinlock.
 */
void _spinlock(volatile _atomic_lock_t *lock);
int  _spinlocktry(volatile _atomic_lock_t *lock);   /* 1 if acquired, 0 if not */
void _spinunlock(volatile _atomic_lock_t *lock);

#ifdef __cplusplus
}
#endif

#endif /* WCHAN_THRSLEEP_H */
