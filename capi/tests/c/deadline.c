/* Deadlines on both clocks: absolute, never early, EWOULDBLOCK, the lock released. */
#include "harness.h"

static int chan;

static void check_clock(clockid_t clock, const char *name) {
    _atomic_lock_t lock = _SPINLOCK_UNLOCKED;
    static const long long offsets_ns[] = {1, 1000, 100000, 1000000, 5000000, 20000000};
    for (int rep = 0; rep < 5; rep++) {
        for (unsigned i = 0; i < sizeof offsets_ns / sizeof offsets_ns[0]; i++) {
            struct timespec deadline = plus_ns(now_on(clock), offsets_ns[i]);
            _spinlock(&lock);
            int rc = __thrsleep(&chan, clock, &deadline, &lock, NULL);
            struct timespec after = now_on(clock);
            CHECK_EQ(rc, EWOULDBLOCK);
            CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);
            if (ts_before(after, deadline)) {
                fprintf(stderr, "%s: returned early: deadline %ld.%09ld, now %ld.%09ld\n", name,
                        (long)deadline.tv_sec, deadline.tv_nsec, (long)after.tv_sec, after.tv_nsec);
                exit(1);
            }
        }
    }
    /* A deadline far away does not end a sleep that a wakeup ends first: covered by the
     * other programs; here a long one on this clock with a wakeup from nobody is not run. */
}

int main(void) {
    watchdog(30);
    check_clock(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
    check_clock(CLOCK_REALTIME, "CLOCK_REALTIME");
    puts("deadline: ok");
    return 0;
}
