/* wchan_interrupt() from a signal handler that sets the abort flag: one signal, sent once
 * the sleeper is queued, always ends the sleep with EINTR (no resending needed), and the
 * handler may also run before the flag is read: then the read sees the flag. */
#include "harness.h"
#include "wchan/interrupt.h"

static _atomic_lock_t lock = _SPINLOCK_UNLOCKED;
static int chan;
static volatile int flag;
static volatile int queued;

static void on_usr2(int sig) {
    (void)sig;
    store(&flag, 1);
    wchan_interrupt();
}

static void *sleeper(void *arg) {
    int *result = arg;
    _spinlock(&lock);
    store(&queued, 1);
    __atomic_store_n(result, __thrsleep(&chan, CLOCK_MONOTONIC, NULL, &lock, (const int *)&flag), __ATOMIC_RELEASE);
    return NULL;
}

int main(void) {
    watchdog(30);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART; /* even so: the sleep ends with EINTR */
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
    for (int round = 0; round < 200; round++) {
        store(&flag, 0);
        store(&queued, 0);
        int result = -100;
        pthread_t t;
        CHECK(pthread_create(&t, NULL, sleeper, &result) == 0);
        await_eq(&queued, 1, 10, "the sleeper to start");
        _spinlock(&lock); /* taken after __thrsleep released it: the sleeper is queued */
        _spinunlock(&lock);
        if (round % 2)
            sched_yield(); /* vary where the signal lands: before or after the flag read */
        CHECK(pthread_kill(t, SIGUSR2) == 0);
        CHECK(pthread_join(t, NULL) == 0);
        CHECK_EQ(result, EINTR);
    }
    /* Outside a sleep it does nothing. */
    wchan_interrupt();
    CHECK_EQ(__thrwakeup(&chan, 0), ESRCH);
    puts("interrupt: ok");
    return 0;
}
