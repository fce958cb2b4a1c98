/* The C half of tests/mixed.rs: C sleepers and wakers that Rust threads meet on the same
 * channels, in one process. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>

#include "wchan/thrsleep.h"

/* Announces `round` in *announce under *lock, then sleeps on id releasing the lock. */
int mixed_c_sleep(const void *id, _atomic_lock_t *lock, volatile int *announce, int round) {
    _spinlock(lock);
    *announce = round;
    return __thrsleep(id, CLOCK_MONOTONIC, NULL, lock, NULL);
}

/* Waits under *lock for *announce == round, then wakes one sleeper on id; returns what
 * __thrwakeup returned (0 when the announced sleeper was found queued). */
int mixed_c_wake_announced(const void *id, _atomic_lock_t *lock, volatile int *announce, int round) {
    for (;;) {
        _spinlock(lock);
        if (*announce == round) {
            int rc = __thrwakeup(id, 1);
            _spinunlock(lock);
            return rc;
        }
        _spinunlock(lock);
        sched_yield();
    }
}
