/* Every error number __thrsleep and __thrwakeup return, and what each does to the lock. */
#include "harness.h"

static int chan;

int main(void) {
    watchdog(20);
    _atomic_lock_t lock = _SPINLOCK_UNLOCKED;
    struct timespec later = plus_ns(now_on(CLOCK_MONOTONIC), 3600LL * 1000000000LL);
    int set = 1;

    /* EINVAL: nothing queued, the lock NOT released, in every path. */
    _spinlock(&lock);
    CHECK_EQ(__thrsleep(NULL, CLOCK_MONOTONIC, NULL, &lock, NULL), EINVAL);
    CHECK_EQ(lock, _ATOMIC_LOCK_LOCKED);
    struct timespec bad = later;
    bad.tv_nsec = 1000000000L;
    CHECK_EQ(__thrsleep(&chan, CLOCK_MONOTONIC, &bad, &lock, NULL), EINVAL);
    CHECK_EQ(lock, _ATOMIC_LOCK_LOCKED);
    bad.tv_nsec = -1;
    CHECK_EQ(__thrsleep(&chan, CLOCK_REALTIME, &bad, &lock, NULL), EINVAL);
    CHECK_EQ(lock, _ATOMIC_LOCK_LOCKED);
    /* Bad nsec is checked before the id, as in OpenBSD: still EINVAL, still held. */
    CHECK_EQ(__thrsleep(NULL, CLOCK_REALTIME, &bad, &lock, NULL), EINVAL);
    CHECK_EQ(lock, _ATOMIC_LOCK_LOCKED);
    CHECK_EQ(__thrsleep(&chan, CLOCK_PROCESS_CPUTIME_ID, &later, &lock, NULL), EINVAL);
    CHECK_EQ(lock, _ATOMIC_LOCK_LOCKED);
    CHECK_EQ(__thrsleep(&chan, 12345, &later, &lock, NULL), EINVAL);
    CHECK_EQ(lock, _ATOMIC_LOCK_LOCKED);
    /* A misaligned lock or abort pointer: EINVAL, the real lock untouched. */
    char raw[16] __attribute__((aligned(8))) = {0};
    CHECK_EQ(__thrsleep(&chan, CLOCK_MONOTONIC, NULL, raw + 1, NULL), EINVAL);
    CHECK_EQ(__thrsleep(&chan, CLOCK_MONOTONIC, NULL, &lock, (const int *)(raw + 1)), EINVAL);
    CHECK_EQ(lock, _ATOMIC_LOCK_LOCKED);
    /* Nobody was queued by any of them. */
    CHECK_EQ(__thrwakeup(&chan, 0), ESRCH);

    /* With a NULL abstime the clock is unused and unchecked (OpenBSD): the abort flag ends
     * the sleep, so it got past validation and queued, and the lock was released. */
    CHECK_EQ(__thrsleep(&chan, 12345, NULL, &lock, &set), EINTR);
    CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);

    /* EWOULDBLOCK for a deadline already past, on either clock: the lock is released and
     * the abort flag is not consulted (OpenBSD returns before reading it). */
    struct timespec past = {0, 0};
    _spinlock(&lock);
    CHECK_EQ(__thrsleep(&chan, CLOCK_REALTIME, &past, &lock, &set), EWOULDBLOCK);
    CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);
    _spinlock(&lock);
    CHECK_EQ(__thrsleep(&chan, CLOCK_MONOTONIC, &past, &lock, NULL), EWOULDBLOCK);
    CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);
    /* ... and for one that passes while asleep. */
    struct timespec soon = plus_ns(now_on(CLOCK_MONOTONIC), 2000000);
    _spinlock(&lock);
    CHECK_EQ(__thrsleep(&chan, CLOCK_MONOTONIC, &soon, &lock, NULL), EWOULDBLOCK);
    CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);
    /* No lock at all is fine. */
    soon = plus_ns(now_on(CLOCK_REALTIME), 2000000);
    CHECK_EQ(__thrsleep(&chan, CLOCK_REALTIME, &soon, NULL, NULL), EWOULDBLOCK);

    /* EINTR from the abort flag, read after the release. */
    _spinlock(&lock);
    CHECK_EQ(__thrsleep(&chan, CLOCK_MONOTONIC, &later, &lock, &set), EINTR);
    CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);
    int clear = 0;
    soon = plus_ns(now_on(CLOCK_MONOTONIC), 2000000);
    CHECK_EQ(__thrsleep(&chan, CLOCK_MONOTONIC, &soon, NULL, &clear), EWOULDBLOCK);

    /* __thrwakeup: EINVAL for NULL or a negative count, ESRCH for nobody; never -1. */
    CHECK_EQ(__thrwakeup(NULL, 1), EINVAL);
    CHECK_EQ(__thrwakeup(NULL, 0), EINVAL);
    CHECK_EQ(__thrwakeup(&chan, -1), EINVAL);
    CHECK_EQ(__thrwakeup(&chan, -2147483647 - 1), EINVAL);
    CHECK_EQ(__thrwakeup(&chan, 1), ESRCH);
    CHECK_EQ(__thrwakeup(&chan, 0), ESRCH);
    CHECK_EQ(__thrwakeup((const void *)-1, 0), ESRCH);

    /* _spinlocktry. */
    CHECK_EQ(_spinlocktry(&lock), 1);
    CHECK_EQ(lock, _ATOMIC_LOCK_LOCKED);
    CHECK_EQ(_spinlocktry(&lock), 0);
    _spinunlock(&lock);
    CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);
    puts("errors: ok");
    return 0;
}
