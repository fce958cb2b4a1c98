/* The hand-off under contention: three sleeper/waker pairs share one spinlock; each round a
 * sleeper announces itself under the lock and sleeps releasing it; its waker, seeing the
 * announcement under the lock, must find it queued (__thrwakeup returns 0, never ESRCH). */
#include "harness.h"

#define PAIRS 3
#define ROUNDS 5000

static _atomic_lock_t lock = _SPINLOCK_UNLOCKED;
static int round_of[PAIRS]; /* under lock: the round pair i's sleeper sleeps in, 0 = none */

static void *sleeper(void *arg) {
    int i = (int)(long)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        _spinlock(&lock);
        round_of[i] = r;
        int rc = __thrsleep(&round_of[i], CLOCK_REALTIME, NULL, &lock, NULL);
        if (rc != 0) {
            fprintf(stderr, "pair %d round %d: __thrsleep returned %d\n", i, r, rc);
            exit(1);
        }
    }
    return NULL;
}

static void *waker(void *arg) {
    int i = (int)(long)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        for (;;) {
            _spinlock(&lock);
            if (round_of[i] == r) {
                round_of[i] = 0;
                int rc = __thrwakeup(&round_of[i], 1);
                _spinunlock(&lock);
                if (rc != 0) {
                    fprintf(stderr, "pair %d round %d: lost wakeup (%d)\n", i, r, rc);
                    exit(1);
                }
                break;
            }
            _spinunlock(&lock);
            sched_yield();
        }
    }
    return NULL;
}

int main(void) {
    watchdog(60);
    pthread_t s[PAIRS], w[PAIRS];
    for (long i = 0; i < PAIRS; i++) {
        CHECK(pthread_create(&s[i], NULL, sleeper, (void *)i) == 0);
        CHECK(pthread_create(&w[i], NULL, waker, (void *)i) == 0);
    }
    for (int i = 0; i < PAIRS; i++) {
        CHECK(pthread_join(s[i], NULL) == 0);
        CHECK(pthread_join(w[i], NULL) == 0);
    }
    CHECK_EQ(lock, _ATOMIC_LOCK_UNLOCKED);
    puts("handoff: ok");
    return 0;
}
