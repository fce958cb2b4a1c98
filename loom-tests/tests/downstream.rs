//! A downstream-style model: primitives written the way a user of wchan writes them, against
//! the public `wchan::park` API only, and model-checked together with wchan's table and
//! parker. This is the recipe docs/model-checking.md gives users:
//!
//! - import atomics (and cells) from `loom` when `cfg(loom)` is set, from `std` otherwise;
//! - write the model with plain `loom::model`;
//! - build with `RUSTFLAGS="--cfg loom"`: wchan switches its internals to loom by itself.
//!
//! No `loom_tests::start` and no early wchan call: `user.rs` has the models on wchan's own
//! locks. `event_that_wakes_before_publishing_is_caught` shows the payoff: a one-line mistake
//! in the user's code (waking before publishing) is found by loom as a deadlock.
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
            // SAFETY: the key is this event's own flag; every park and unpark on it follows
            // the event's protocol (park while unset, wake all after setting).
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
        // SAFETY: as in `wait`: the event's own key, its own protocol.
        unsafe { park::unpark_all(self.key(), DEFAULT_UNPARK_TOKEN) }
    }

    /// The mistake: wake first, then publish. A waiter that validates between the two parks
    /// after the only wakeup it will ever get.
    fn set_wrongly(&self) -> usize {
        // SAFETY: as in `wait` (the bug is in the order, not in the key or the token).
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
                // SAFETY: the key is this semaphore's own counter; every park and unpark on
                // it follows the semaphore's protocol (park while no permit, wake after adding).
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
        // SAFETY: as in `acquire`: the semaphore's own key, its own protocol.
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

/// A reader-writer lock on `wchan::park`: `state` counts the readers, or is `WRITER` while a
/// writer holds it. Readers and writers park on the state's address while it bars them;
/// every unlock that may unbar someone wakes all, who retry.
struct RwLock<T> {
    state: AtomicUsize,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is read under a read lock and written under the write lock only.
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}

const WRITER: usize = usize::MAX;

impl<T> RwLock<T> {
    fn new(value: T) -> RwLock<T> {
        RwLock { state: AtomicUsize::new(0), data: UnsafeCell::new(value) }
    }

    fn key(&self) -> usize {
        &self.state as *const AtomicUsize as usize
    }

    /// Parks while `barred(state)`, checked again under the bucket lock.
    fn park_while(&self, barred: impl Fn(usize) -> bool) {
        // SAFETY: the key is this lock's own state word; every park and unpark on it follows
        // this lock's protocol (park while barred, wake all after a change that may unbar).
        unsafe {
            park::park(self.key(), ParkOptions::new(), || barred(self.state.load(Ordering::Relaxed)), || {}, |_, _| {})
        };
    }

    fn wake_all(&self) {
        // SAFETY: as in `park_while`: this lock's own key, its own protocol.
        unsafe { park::unpark_all(self.key(), DEFAULT_UNPARK_TOKEN) };
    }

    fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s == WRITER {
                self.park_while(|s| s == WRITER);
                s = self.state.load(Ordering::Relaxed);
                continue;
            }
            // Acquire: pairs with the writer's Release in `write`.
            match self.state.compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // SAFETY: a read lock is held: no writer until it is released.
        let r = self.data.with(|d| f(unsafe { &*d }));
        // Release: the read happens before a later writer's Acquire.
        if self.state.fetch_sub(1, Ordering::Release) == 1 {
            self.wake_all();
        }
        r
    }

    fn write(&self, f: impl FnOnce(&mut T)) {
        // Acquire: pairs with the Release of the last reader or writer out.
        while self.state.compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.park_while(|s| s != 0);
        }
        // SAFETY: the write lock is held: nobody else reads or writes.
        self.data.with_mut(|d| f(unsafe { &mut *d }));
        // Release: publishes the write to the next reader or writer.
        self.state.store(0, Ordering::Release);
        self.wake_all();
    }
}

/// Two readers and a writer: each reader sees the value before or after the write, never a
/// torn one (loom checks that no read overlaps the write), and nobody sleeps for ever.
#[test]
fn rwlock_on_park_excludes_the_writer_and_wakes_everyone() {
    model_reaching(&["read before the write", "read after the write"], |outcomes: &Outcomes| {
        let lock = Arc::new(RwLock::new((1, 1)));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let lock = lock.clone();
                thread::spawn(move || {
                    lock.read(|&(a, b)| {
                        assert_eq!(a, b, "a read overlapped the write");
                        a
                    })
                })
            })
            .collect();
        lock.write(|v| *v = (2, 2));
        for r in readers {
            let seen = r.join().unwrap();
            outcomes.saw(if seen == 1 { "read before the write" } else { "read after the write" });
        }
    });
}
