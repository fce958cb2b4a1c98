/* Shared by the C test programs: checks that fail loudly, clocks, a watchdog. */
#ifndef WCHAN_TEST_HARNESS_H
#define WCHAN_TEST_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wchan/thrsleep.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                   \
    do {                                                                                 \
        long long a_ = (long long)(a), b_ = (long long)(b);                              \
        if (a_ != b_) {                                                                  \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
                    #a, a_, #b, b_);                                                     \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

/* The watchdog: a hung program is killed by SIGALRM (default action) and fails its test. */
static inline void watchdog(unsigned seconds) { alarm(seconds); }

static inline struct timespec now_on(clockid_t clock) {
    struct timespec ts;
    CHECK(clock_gettime(clock, &ts) == 0);
    return ts;
}

static inline struct timespec plus_ns(struct timespec ts, long long ns) {
    long long total = (long long)ts.tv_nsec + ns;
    ts.tv_sec += (time_t)(total / 1000000000LL);
    ts.tv_nsec = (long)(total % 1000000000LL);
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += 1000000000L;
        ts.tv_sec -= 1;
    }
    return ts;
}

static inline int ts_before(struct timespec a, struct timespec b) {
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static inline void sleep_ms(long ms) {
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) != 0) {
    }
}

/* Reads an int another thread writes under a lock or atomically. */
static inline int load(const volatile int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store(volatile int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline int add(volatile int *p, int v) { return __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL); }

/* Yields until *p == want, failing after `seconds`. A handshake, not a timed guess. */
static inline void await_eq(const volatile int *p, int want, int seconds, const char *what) {
    struct timespec limit = plus_ns(now_on(CLOCK_MONOTONIC), (long long)seconds * 1000000000LL);
    while (load(p) != want) {
        if (ts_before(limit, now_on(CLOCK_MONOTONIC))) {
            fprintf(stderr, "timed out waiting for %s (have %d, want %d)\n", what, load(p), want);
            exit(1);
        }
        sched_yield();
    }
}

#endif
