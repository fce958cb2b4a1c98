/* The abort flag: read after the lock is released, before blocking; a flag set before a
 * __thrwakeup of the channel is never missed; and a signal handler ends a blocked sleep. */
#include "harness.h"

static _atomic_lock_t lock = _SPINLOCK_UNLOCKED;
static int chan;
static volatile int flag;   /* the abort flag */
static volatile int done;   /* sleeper's rounds finished */

#define ROUNDS 2000

/* Each round: sleep with the abort flag until the flag is seen (EINTR) or a wakeup comes. */
static void *sleeper(void *arg) {
    (void)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        for (;;) {
            _spinlock(&lock);
            if (load(&flag) == r) {
                _spinunlock(&lock);
                break;
            }
            int rc = __thrsleep(&chan, CLOCK_MONOTONIC, NULL, &lock, (const int *)&flag);
            if (rc != 0 && rc != EINTR) {
                fprintf(stderr, "round %d: __thrsleep returned %d\n", r, rc);
                exit(1);
            }
        }
        store(&done, r);
    }
    return NULL;
}

static void on_usr1(int sig) { (void)sig; }

static volatile int sig_queued;
static void *signalled_sleeper(void *arg) {
    int *result = arg;
    _spinlock(&lock);
    store(&sig_queued, 1);
    __atomic_store_n(result, __thrsleep(&chan, CLOCK_MONOTONIC, NULL, &lock, NULL), __ATOMIC_RELEASE);
    return NULL;
}

int main(void) {
    watchdog(60);

    /* Order: the flag is read after the lock's release. A flag set before the call ends the
     * sleep at once with EINTR, and the lock has been released. */
    int set = 1;
    _spinlock(&lock);
    CHECK_EQ(__thrsleep(&chan, CLOCK_REALTIME, NULL, &lock, &set), EINTR);
    CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);
    CHECK_EQ(__thrwakeup(&chan, 0), ESRCH); /* and it left the queue */

    /* Never missed: the waker sets the flag (no lock) and then wakes the channel. */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, sleeper, NULL) == 0);
    for (int r = 1; r <= ROUNDS; r++) {
        store(&flag, r);
        (void)__thrwakeup(&chan, 0); /* 0 or ESRCH: the sleeper may not be asleep */
        await_eq(&done, r, 20, "the sleeper to see the abort flag");
    }
    CHECK(pthread_join(t, NULL) == 0);

    /* A signal handler that runs while the thread is blocked ends the sleep with EINTR. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    int result = -100;
    CHECK(pthread_create(&t, NULL, signalled_sleeper, &result) == 0);
    await_eq(&sig_queued, 1, 10, "the sleeper to start");
    _spinlock(&lock); /* taken after its release: it is queued */
    _spinunlock(&lock);
    /* Repeat the signal until it lands while the thread is blocked (one landing between the
     * queueing and the kernel wait is, by design, not seen: see the header). */
    for (int i = 0; i < 1000; i++) {
        pthread_kill(t, SIGUSR1);
        sleep_ms(5);
        if (__atomic_load_n(&result, __ATOMIC_ACQUIRE) != -100)
            break;
    }
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_EQ(result, EINTR);
    puts("abort: ok");
    return 0;
}
