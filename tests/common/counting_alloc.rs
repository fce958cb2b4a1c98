//! The counting allocator of the no-allocation tests (`no_alloc.rs`, `tracing_no_alloc.rs`):
//! it counts the allocations of a thread whose "measuring" flag is on. A test binary installs
//! it with its own `#[global_allocator] static GLOBAL: Counting = Counting;`. Also the
//! sleep/wake cycles both of them measure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use wchan::{wakeup, Deadline, Sleep, SpinLock};

/// `System`, plus a per-thread count of allocations made while measuring.
pub struct Counting;

thread_local! {
    /// Whether this thread's allocations are being counted. Const, no destructor: safe to read
    /// from inside the allocator at any point of a thread's life.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    /// Allocations this thread made while measuring.
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc() {
    let _ = MEASURING.try_with(|m| {
        if m.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the only
// addition is a thread-local counter update, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        // SAFETY: forwarded from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` with this thread's allocations counted; returns how many it made.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    MEASURING.with(|m| m.set(true));
    f();
    MEASURING.with(|m| m.set(false));
    COUNT.with(|c| c.get())
}

/// `rounds` sleep/wake cycles between two threads, after one warm-up cycle (one-time setup,
/// such as tracing's callsite registration, happens there): the sleeper sleeps on a
/// `SpinLock`'s address, handing the lock over, every other time with a deadline; the waker
/// waits for its turn under the lock and wakes exactly it. Returns the allocations counted on
/// the sleeper's side and on the waker's.
pub fn sleep_wakeup_cycles(rounds: u32) -> (usize, usize) {
    let lock = Arc::new(SpinLock::new(0u32)); // the cycle the sleeper waits in, 0 = none
    let sleeper = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            let cycle = |i: u32| {
                let mut g = lock.lock();
                *g = i;
                let sleep = Sleep::on(&*lock).unlocking(g);
                let sleep = if i % 2 == 0 { sleep.until(Deadline::after(Duration::from_secs(60))) } else { sleep };
                assert_eq!(sleep.wait(), Ok(()));
            };
            cycle(1);
            allocations_during(|| (2..=rounds + 1).for_each(cycle))
        })
    };
    let waker = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            let cycle = |i: u32| loop {
                let mut g = lock.lock();
                if *g == i {
                    *g = 0;
                    assert_eq!(wakeup(&*lock, 1), Ok(1));
                    return;
                }
                drop(g);
                std::hint::spin_loop();
            };
            cycle(1);
            allocations_during(|| (2..=rounds + 1).for_each(cycle))
        })
    };
    (sleeper.join().unwrap(), waker.join().unwrap())
}
