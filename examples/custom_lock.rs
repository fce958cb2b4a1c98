//! A counting semaphore built only on the public `wchan::park` API.
//!
//! The park functions are `unsafe` (as parking_lot_core's are): the contract is that the key
//! is an address this primitive owns and every park/unpark on it follows its protocol.
//!
//! State: `permits`, the number of free permits. `acquire` takes one with a compare-exchange,
//! or parks on the counter's address while it reads 0 (checked again under the bucket lock,
//! so a release cannot slip between the check and the sleep). `release` adds a permit, then
//! wakes one parked thread; with nobody parked that wake is a fence and a load, no syscall.
//! Runs with `cargo run --example custom_lock`; builds under `RUSTFLAGS="--cfg loom"` too,
//! where `main` model-checks two threads sharing one permit.

#[cfg(loom)]
use loom::{sync::atomic::AtomicUsize, sync::Arc, thread};
use std::sync::atomic::Ordering; // loom re-exports std's
#[cfg(not(loom))]
use std::{sync::atomic::AtomicUsize, sync::Arc, thread};
use wchan::park::{self, ParkOptions, DEFAULT_UNPARK_TOKEN};

pub struct Semaphore {
    permits: AtomicUsize,
}

impl Semaphore {
    pub fn new(permits: usize) -> Self {
        Semaphore { permits: AtomicUsize::new(permits) }
    }

    fn key(&self) -> usize {
        &self.permits as *const AtomicUsize as usize
    }

    pub fn acquire(&self) {
        let mut n = self.permits.load(Ordering::Relaxed);
        loop {
            if n > 0 {
                // Acquire: pairs with the Release of the `release` that made this permit.
                match self.permits.compare_exchange_weak(n, n - 1, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return,
                    Err(now) => n = now,
                }
                continue;
            }
            // Sleep only if there is still no permit once the bucket is locked.
            // SAFETY: the key is this semaphore's own counter, and only `acquire` and
            // `release` park or unpark on it.
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
        }
    }

    pub fn release(&self) {
        // Release: publishes the holder's writes to the next acquirer.
        self.permits.fetch_add(1, Ordering::Release);
        // unpark_n's fence pairs with park's: a thread that validated 0 before our add is
        // queued by now and found; one that validates after sees the permit.
        // SAFETY: as in `acquire`: our own key, our own protocol (no token is trusted).
        unsafe { park::unpark_n(self.key(), 1, DEFAULT_UNPARK_TOKEN) };
    }
}

/// `threads` threads take and give back a permit `rounds` times each; asserts that no more
/// than `permits` threads ever hold one at once and that every permit comes back.
fn exercise(threads: usize, rounds: usize, permits: usize) {
    let (sem, inside) = (Arc::new(Semaphore::new(permits)), Arc::new(AtomicUsize::new(0)));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                for _ in 0..rounds {
                    sem.acquire();
                    assert!(inside.fetch_add(1, Ordering::SeqCst) < permits, "more holders than permits");
                    inside.fetch_sub(1, Ordering::SeqCst);
                    sem.release();
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(sem.permits.load(Ordering::SeqCst), permits, "every permit came back");
}

fn main() {
    #[cfg(not(loom))]
    exercise(8, 10_000, 3);
    #[cfg(loom)]
    loom::model(|| exercise(2, 1, 1));
    println!("semaphore: at most `permits` holders at once, every permit returned");
}
