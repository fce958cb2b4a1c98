//! A downstream-style model: primitives written the way a user of wchan writes them, against
//! the public `wchan::park` API only, and model-checked together with wchan's table and
//! parker. This is the recipe docs/model-checking.md gives users:
//!
//! - import atomics (and cells) from `loom` when `cfg(loom)` is set, from `std` otherwise;
//! - create every wchan object and the primitive itself inside `loom::model`;
//! - touch wchan once from the model's main thread before spawning (any wake on the
//!   primitive's key will do), so wchan's per-execution state is built there;
//! - build with `RUSTFLAGS="--cfg loom"`: wchan switches its internals to loom by itself.
//!
//! The last model shows the payoff: a one-line mistake in the user's code (waking before
//! publishing) is found by loom as a deadlock.
//!
//! SAFETY (every `unsafe` call into `wchan::park` here): the key is an address this file owns
//! (a local, a leaked box or a static of its own) and every park and unpark on it follows the
//! protocol of the primitive or test around it.
#![cfg(loom)]

#[cfg(loom)]
use loom::{
    cell::UnsafeCell,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    sync::Arc,
    thread,
};
#[cfg(not(loom))]
use std::{
    cell::UnsafeCell,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    sync::Arc,
    thread,
};

use loom_tests::{model_reaching, Outcomes};
use wchan::park::{self, ParkOptions, DEFAULT_UNPARK_TOKEN};

/// Builds wchan's per-execution state (its table and lock pool are loom lazy statics) from
/// the calling thread: call it from the model's main thread before spawning. A thread that
/// first touches a lazy static another thread built synchronizes with that builder, an edge
/// the real program lacks; with the main thread as builder, before any spawn, it is void.
/// A wake with nobody asleep is a fence and a load.
fn touch_wchan(key: usize) {
    assert_eq!(unsafe { park::unpark_all(key, DEFAULT_UNPARK_TOKEN) }, 0);
}

/// A one-shot event: `wait` returns once `set` has been called.
struct Event {
    set: AtomicBool,
}

impl Event {
    fn new() -> Event {
        Event { set: AtomicBool::new(false) }
    }

    fn key(&self) -> usize {
        &self.set as *const AtomicBool as usize
    }

    fn wait(&self) {
        // Acquire: pairs with `set`'s Release, so the setter's writes are visible after.
        while !self.set.load(Ordering::Acquire) {
            // Sleep only if the event is still unset under the bucket lock.
            unsafe {
                park::park(self.key(), ParkOptions::new(), || !self.set.load(Ordering::Relaxed), || {}, |_, _| {})
            };
        }
    }

    fn set(&self) -> usize {
        // Release: publishes the setter's writes to every waiter.
        self.set.store(true, Ordering::Release);
        // The fence inside unpark_all pairs with park's: a waiter that validated before the
        // store is queued by now and found; one that validates after sees the store.
        unsafe { park::unpark_all(self.key(), DEFAULT_UNPARK_TOKEN) }
    }

    /// The mistake: wake first, then publish. A waiter that validates between the two parks
    /// after the only wakeup it will ever get.
    fn set_wrongly(&self) -> usize {
        let woken = unsafe { park::unpark_all(self.key(), DEFAULT_UNPARK_TOKEN) };
        self.set.store(true, Ordering::Release);
        woken
    }
}

/// Two waiters and a setter: both waiters return, and see the data written before `set`.
#[test]
fn event_set_releases_every_waiter() {
    model_reaching(&["woke a sleeper", "nobody slept"], |outcomes: &Outcomes| {
        let shared = Arc::new((Event::new(), AtomicUsize::new(0)));
        touch_wchan(shared.0.key());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || {
                    shared.0.wait();
                    // Relaxed: ordered by the event's Release/Acquire.
                    assert_eq!(shared.1.load(Ordering::Relaxed), 42, "woke before the data was published");
                })
            })
            .collect();
        shared.1.store(42, Ordering::Relaxed);
        let woken = shared.0.set();
        for t in waiters {
            t.join().unwrap();
        }
        outcomes.saw(if woken > 0 { "woke a sleeper" } else { "nobody slept" });
    });
}

/// The broken `set`: loom finds the schedule where the waiter sleeps forever.
#[test]
#[should_panic(expected = "deadlock")]
fn event_that_wakes_before_publishing_is_caught() {
    loom::model(|| {
        // std's Arc, not loom's: loom's would panic again while the deadlock panic unwinds.
        let event = std::sync::Arc::new(Event::new());
        touch_wchan(event.key());
        let waiter = {
            let event = event.clone();
            thread::spawn(move || event.wait())
        };
        event.set_wrongly();
        waiter.join().unwrap();
    });
}

/// A counting semaphore, as in `examples/custom_lock.rs`: `acquire` takes a permit with a
/// compare-exchange or parks while none is free; `release` adds one and wakes one sleeper.
struct Semaphore {
    permits: AtomicUsize,
}

impl Semaphore {
    fn new(permits: usize) -> Semaphore {
        Semaphore { permits: AtomicUsize::new(permits) }
    }

    fn key(&self) -> usize {
        &self.permits as *const AtomicUsize as usize
    }

    fn acquire(&self) {
        let mut n = self.permits.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                unsafe {
                    park::park(
                        self.key(),
                        ParkOptions::new(),
                        || self.permits.load(Ordering::Relaxed) == 0,
                        || {},
                        |_, _| {},
                    )
                };
                n = self.permits.load(Ordering::Relaxed);
                continue;
            }
            // Acquire: pairs with the Release of the `release` that made this permit.
            match self.permits.compare_exchange(n, n - 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => n = now,
            }
        }
    }

    fn release(&self) {
        // Release: publishes the holder's writes to the next acquirer.
        self.permits.fetch_add(1, Ordering::Release);
        unsafe { park::unpark_n(self.key(), 1, DEFAULT_UNPARK_TOKEN) };
    }
}

/// One permit guarding a counter that loom watches for unordered accesses.
struct Guarded {
    sem: Semaphore,
    count: UnsafeCell<usize>,
}

// SAFETY: `count` is only accessed while holding the semaphore's single permit (which the
// model checks: loom fails on two accesses not ordered by happens-before).
unsafe impl Sync for Guarded {}

/// Three threads share one permit: each increments the counter while holding it; all finish.
#[test]
fn semaphore_with_one_permit_excludes_and_wakes() {
    loom::model(|| {
        let g = Arc::new(Guarded { sem: Semaphore::new(1), count: UnsafeCell::new(0) });
        touch_wchan(g.sem.key());
        let critical = |g: &Guarded| {
            g.sem.acquire();
            // SAFETY: the permit is held.
            g.count.with_mut(|n| unsafe { *n += 1 });
            g.sem.release();
        };
        let others: Vec<_> = (0..2)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || critical(&g))
            })
            .collect();
        critical(&g);
        for t in others {
            t.join().unwrap();
        }
        // SAFETY: every other thread has been joined.
        assert_eq!(g.count.with(|n| unsafe { *n }), 3);
    });
}
