/* _spinlock and __thrsleep's release: a thread waiting in _spinlock while the holder sleeps
 * in __thrsleep gets the lock when __thrsleep releases it, and it does not burn a core while
 * it waits. */
#include "harness.h"

static _atomic_lock_t lock = _SPINLOCK_UNLOCKED;
static int chan;
static volatile int started, got;
static volatile long long waiter_cpu_ns;

static long long thread_cpu_ns(void) {
    struct timespec ts = now_on(CLOCK_THREAD_CPUTIME_ID);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *waiter(void *arg) {
    (void)arg;
    long long before = thread_cpu_ns();
    store(&started, 1);
    _spinlock(&lock); /* held by main, which is sleeping: must not spin all that time */
    waiter_cpu_ns = thread_cpu_ns() - before;
    store(&got, 1);
    /* Wake main, which released the lock inside __thrsleep and is queued on chan. */
    CHECK_EQ(__thrwakeup(&chan, 1), 0);
    _spinunlock(&lock);
    return NULL;
}

int main(void) {
    watchdog(30);
    for (int round = 0; round < 20; round++) {
        store(&started, 0);
        store(&got, 0);
        _spinlock(&lock);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
        await_eq(&started, 1, 10, "the waiter to start");
        /* Hold the lock for a while, as a holder that sleeps would. */
        sleep_ms(round == 0 ? 300 : 10);
        CHECK_EQ(load(&got), 0);
        /* Release it by sleeping: the waiter must get it and wake us. */
        CHECK_EQ(__thrsleep(&chan, CLOCK_MONOTONIC, NULL, &lock, NULL), 0);
        CHECK(pthread_join(t, NULL) == 0);
        if (round == 0) {
            /* 300 ms of waiting: a spinning waiter would use ~300 ms of CPU. */
            if (waiter_cpu_ns > 60000000LL) {
                fprintf(stderr, "waiter burned %lld ns of CPU in 300 ms\n", waiter_cpu_ns);
                exit(1);
            }
        }
    }
    /* Many waiters, one holder that releases through _spinunlock and __thrsleep in turn. */
    CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);
    puts("spinpark: ok");
    return 0;
}
