/* Count semantics: three sleepers; __thrwakeup(id, 1) wakes exactly one, then
 * __thrwakeup(id, 0) the other two, then nobody is left. */
#include "harness.h"

static _atomic_lock_t lock = _SPINLOCK_UNLOCKED;
static int chan;
static volatile int queued; /* under lock: sleepers that announced themselves */
static volatile int woken;  /* sleepers whose __thrsleep returned 0 */
static volatile int failed;

static void *sleeper(void *arg) {
    (void)arg;
    _spinlock(&lock);
    queued++;
    /* Queued before the lock is released: whoever sees queued == 3 under the lock sees
     * three queued sleepers. */
    int r = __thrsleep(&chan, CLOCK_MONOTONIC, NULL, &lock, NULL);
    if (r != 0)
        store(&failed, r);
    add(&woken, 1);
    return NULL;
}

int main(void) {
    watchdog(20);
    for (int round = 0; round < 200; round++) {
        pthread_t t[3];
        queued = 0;
        store(&woken, 0);
        for (int i = 0; i < 3; i++)
            CHECK(pthread_create(&t[i], NULL, sleeper, NULL) == 0);
        for (;;) {
            _spinlock(&lock);
            int q = queued;
            _spinunlock(&lock);
            if (q == 3)
                break;
            sched_yield();
        }
        CHECK_EQ(__thrwakeup(&chan, 1), 0);
        await_eq(&woken, 1, 10, "the one woken sleeper to return");
        if (round % 50 == 0) {
            /* Give a wrongly woken second sleeper time to show itself. */
            sleep_ms(20);
            CHECK_EQ(load(&woken), 1);
        }
        CHECK_EQ(__thrwakeup(&chan, 0), 0);
        await_eq(&woken, 3, 10, "the other two sleepers to return");
        CHECK_EQ(__thrwakeup(&chan, 0), ESRCH);
        for (int i = 0; i < 3; i++)
            CHECK(pthread_join(t[i], NULL) == 0);
        CHECK_EQ(load(&failed), 0);
    }
    puts("counts: ok");
    return 0;
}
