/*
 * A pthread-style mutex and condition variable built on __thrsleep/__thrwakeup the way
 * OpenBSD's thread library builds them (lib/libc/thread/rthread_sync.c rev 1.5, 2018/04/24):
 * a spinlock-protected queue of waiting threads per object; a waiter sleeps on its own
 * thread structure with __thrsleep(self, clock, abstime, &mutex->lock, NULL); ownership is
 * handed to the queue's head on unlock; signal moves a waiter from the condvar's queue to
 * the mutex's. Written for this test, not copied. Stressed by producers and consumers over a
 * bounded buffer, with timed waits that time out and broadcasts.
 */
#include <sys/queue.h>

#include "harness.h"

struct thr {
    TAILQ_ENTRY(thr) waiting;
    struct cond *blocking_cond; /* under cond->lock: the condvar this thread waits on */
};
TAILQ_HEAD(thrq, thr);

struct mutex {
    _atomic_lock_t lock;
    struct thr *owner;    /* under lock */
    struct thrq lockers;  /* under lock: threads waiting to own it, in order */
};

struct cond {
    _atomic_lock_t lock;
    struct mutex *mutex;  /* under lock: the mutex of the current waiters */
    struct thrq waiters;  /* under lock */
    clockid_t clock;
};

static _Thread_local struct thr self_thr;
#define SELF (&self_thr)

static void mutex_init(struct mutex *m) {
    m->lock = _SPINLOCK_UNLOCKED;
    m->owner = NULL;
    TAILQ_INIT(&m->lockers);
}

/* Blocks until the calling thread owns m, or abstime (CLOCK_REALTIME) passes: ETIMEDOUT. */
static int mutex_timedlock(struct mutex *m, const struct timespec *abstime) {
    struct thr *self = SELF;
    _spinlock(&m->lock);
    if (m->owner == NULL && TAILQ_EMPTY(&m->lockers)) {
        m->owner = self;
    } else {
        TAILQ_INSERT_TAIL(&m->lockers, self, waiting);
        while (m->owner != self) {
            int rc = __thrsleep(self, CLOCK_REALTIME, abstime, &m->lock, NULL);
            _spinlock(&m->lock);
            CHECK(m->owner != NULL);
            if (rc == EWOULDBLOCK) {
                if (m->owner == self)
                    break;
                TAILQ_REMOVE(&m->lockers, self, waiting);
                _spinunlock(&m->lock);
                return ETIMEDOUT;
            }
            CHECK(rc == 0 || rc == EINTR);
        }
    }
    _spinunlock(&m->lock);
    return 0;
}

static void mutex_lock(struct mutex *m) { CHECK_EQ(mutex_timedlock(m, NULL), 0); }

/* Hands the mutex to the first waiting locker, if any, and wakes it. */
static void mutex_unlock(struct mutex *m) {
    struct thr *next;
    CHECK(m->owner == SELF);
    _spinlock(&m->lock);
    m->owner = next = TAILQ_FIRST(&m->lockers);
    if (next != NULL)
        TAILQ_REMOVE(&m->lockers, next, waiting);
    _spinunlock(&m->lock);
    if (next != NULL)
        (void)__thrwakeup(next, 1); /* ESRCH if it has not gone to sleep yet: it will see owner */
}

static void cond_init(struct cond *c) {
    c->lock = _SPINLOCK_UNLOCKED;
    c->mutex = NULL;
    TAILQ_INIT(&c->waiters);
    c->clock = CLOCK_REALTIME;
}

/* Waits on c, releasing m; owns m again on return. 0 or ETIMEDOUT (abstime on c->clock). */
static int cond_timedwait(struct cond *c, struct mutex *m, const struct timespec *abstime) {
    struct thr *self = SELF, *next;
    int rv = 0;
    CHECK(m->owner == self);

    _spinlock(&c->lock);
    if (c->mutex == NULL)
        c->mutex = m;
    CHECK(c->mutex == m);
    /* Move from owning the mutex to the condvar's queue, then pass the mutex on. */
    _spinlock(&m->lock);
    self->blocking_cond = c;
    TAILQ_INSERT_TAIL(&c->waiters, self, waiting);
    _spinunlock(&c->lock);
    m->owner = next = TAILQ_FIRST(&m->lockers);
    if (next != NULL) {
        TAILQ_REMOVE(&m->lockers, next, waiting);
        (void)__thrwakeup(next, 1);
    }

    /* Until this thread owns the mutex again; m->lock is held at the top of the loop. */
    while (m->owner != self) {
        int rc = __thrsleep(self, c->clock, abstime, &m->lock, NULL);
        CHECK(rc == 0 || rc == EWOULDBLOCK || rc == EINTR);
        if (abstime == NULL) {
            _spinlock(&m->lock);
            continue;
        }
        /* Woken or timed out: either way no longer a timed condvar waiter. */
        abstime = NULL;
        _spinlock(&c->lock);
        if (self->blocking_cond == NULL) {
            /* A signal moved us to the mutex's queue already: wait for ownership. */
            _spinunlock(&c->lock);
            _spinlock(&m->lock);
            continue;
        }
        CHECK(self->blocking_cond == c);
        if (rc == EWOULDBLOCK)
            rv = ETIMEDOUT;
        TAILQ_REMOVE(&c->waiters, self, waiting);
        if (TAILQ_EMPTY(&c->waiters))
            c->mutex = NULL;
        self->blocking_cond = NULL;
        _spinunlock(&c->lock);
        _spinlock(&m->lock);
        if (m->owner == NULL && TAILQ_EMPTY(&m->lockers)) {
            m->owner = self;
            break;
        }
        TAILQ_INSERT_TAIL(&m->lockers, self, waiting);
    }
    _spinunlock(&m->lock);
    return rv;
}

/* Moves the first waiter to the mutex (waking it if the mutex is free). */
static void cond_signal(struct cond *c) {
    _spinlock(&c->lock);
    struct thr *t = TAILQ_FIRST(&c->waiters);
    if (t == NULL) {
        _spinunlock(&c->lock);
        return;
    }
    TAILQ_REMOVE(&c->waiters, t, waiting);
    t->blocking_cond = NULL;
    struct mutex *m = c->mutex;
    if (TAILQ_EMPTY(&c->waiters))
        c->mutex = NULL;
    _spinlock(&m->lock); /* before releasing c->lock: a racing timed-out waiter sees both */
    _spinunlock(&c->lock);
    int wake = m->owner == NULL && TAILQ_EMPTY(&m->lockers);
    if (wake)
        m->owner = t;
    else
        TAILQ_INSERT_TAIL(&m->lockers, t, waiting);
    _spinunlock(&m->lock);
    if (wake)
        (void)__thrwakeup(t, 1);
}

/* Moves every waiter to the mutex's queue, waking the first if the mutex is free. */
static void cond_broadcast(struct cond *c) {
    _spinlock(&c->lock);
    struct mutex *m = c->mutex;
    if (m == NULL) {
        _spinunlock(&c->lock);
        return;
    }
    struct thr *t;
    TAILQ_FOREACH(t, &c->waiters, waiting)
        t->blocking_cond = NULL;
    c->mutex = NULL;
    _spinlock(&m->lock);
    struct thr *first = TAILQ_FIRST(&c->waiters);
    int wake = m->owner == NULL && TAILQ_EMPTY(&m->lockers);
    TAILQ_CONCAT(&m->lockers, &c->waiters, waiting);
    _spinunlock(&c->lock);
    if (wake) {
        TAILQ_REMOVE(&m->lockers, first, waiting);
        m->owner = first;
    }
    _spinunlock(&m->lock);
    if (wake)
        (void)__thrwakeup(first, 1);
}

/* The workload: a bounded buffer, producers and consumers, sum checked at the end. */
#define CAP 4
#define PRODUCERS 3
#define CONSUMERS 3
#define PER_PRODUCER 20000

static struct mutex mtx;
static struct cond not_empty, not_full;
static int buf[CAP], head, count, produced_done;
static long long consumed_sum, consumed_n, timeouts;

static void *producer(void *arg) {
    int id = (int)(long)arg;
    for (int i = 1; i <= PER_PRODUCER; i++) {
        mutex_lock(&mtx);
        while (count == CAP)
            (void)cond_timedwait(&not_full, &mtx, NULL);
        buf[(head + count) % CAP] = i;
        count++;
        if (i % 7 == 0)
            cond_broadcast(&not_empty);
        else
            cond_signal(&not_empty);
        mutex_unlock(&mtx);
    }
    mutex_lock(&mtx);
    produced_done++;
    cond_broadcast(&not_empty);
    mutex_unlock(&mtx);
    (void)id;
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    for (int n = 0;; n++) {
        if (n % 16 == 0) {
            /* A timed lock that may time out under contention. */
            struct timespec t = plus_ns(now_on(CLOCK_REALTIME), 200000);
            if (mutex_timedlock(&mtx, &t) == ETIMEDOUT) {
                mutex_lock(&mtx);
                timeouts++;
            }
        } else {
            mutex_lock(&mtx);
        }
        while (count == 0 && produced_done < PRODUCERS) {
            if (n % 3 == 0) {
                struct timespec t = plus_ns(now_on(CLOCK_REALTIME), 500000);
                if (cond_timedwait(&not_empty, &mtx, &t) == ETIMEDOUT)
                    timeouts++;
            } else {
                (void)cond_timedwait(&not_empty, &mtx, NULL);
            }
        }
        if (count == 0) {
            mutex_unlock(&mtx);
            return NULL;
        }
        consumed_sum += buf[head];
        consumed_n++;
        head = (head + 1) % CAP;
        count--;
        cond_signal(&not_full);
        mutex_unlock(&mtx);
    }
}

int main(void) {
    watchdog(120);
    mutex_init(&mtx);
    cond_init(&not_empty);
    cond_init(&not_full);
    pthread_t p[PRODUCERS], c[CONSUMERS];
    for (long i = 0; i < CONSUMERS; i++)
        CHECK(pthread_create(&c[i], NULL, consumer, (void *)i) == 0);
    for (long i = 0; i < PRODUCERS; i++)
        CHECK(pthread_create(&p[i], NULL, producer, (void *)i) == 0);
    for (int i = 0; i < PRODUCERS; i++)
        CHECK(pthread_join(p[i], NULL) == 0);
    for (int i = 0; i < CONSUMERS; i++)
        CHECK(pthread_join(c[i], NULL) == 0);
    long long n = PER_PRODUCER;
    CHECK_EQ(consumed_n, PRODUCERS * n);
    CHECK_EQ(consumed_sum, PRODUCERS * (n * (n + 1) / 2));
    CHECK(mtx.owner == NULL && TAILQ_EMPTY(&mtx.lockers) && mtx.lock == _SPINLOCK_UNLOCKED);
    CHECK(TAILQ_EMPTY(&not_empty.waiters) && TAILQ_EMPTY(&not_full.waiters));
    printf("mutex_cond: ok (%lld timeouts)\n", timeouts);
    return 0;
}
