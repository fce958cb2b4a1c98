//! C and Rust on one table, in one process: C sleepers (`tests/c/mixed_support.c`, calling
//! `__thrsleep`) are woken by Rust's `wchan::wakeup`, and Rust `Sleep`s by C's
//! `__thrwakeup`. The C half is compiled by `build.rs` and linked here only.
extern crate wchan_capi; // the C functions' `__thrsleep` etc. resolve to this crate

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lock_api::RawMutex as _;
use wchan::{wakeup, Sleep};
use wchan_capi::SpinWord;

#[link(name = "wchan_capi_mixed", kind = "static")]
extern "C" {
    fn mixed_c_sleep(id: *const c_void, lock: *mut c_int, announce: *mut c_int, round: c_int) -> c_int;
    fn mixed_c_wake_announced(id: *const c_void, lock: *mut c_int, announce: *mut c_int, round: c_int) -> c_int;
}

const ROUNDS: c_int = 2000;

/// A lock word and an announcement cell, shared by C and Rust threads.
struct Shared {
    lock: AtomicI32,
    announce: AtomicI32,
}

impl Shared {
    fn lock_ptr(&self) -> *mut c_int {
        self.lock.as_ptr()
    }
    fn announce_ptr(&self) -> *mut c_int {
        self.announce.as_ptr()
    }
    fn chan(&self) -> *const c_void {
        (&self.announce as *const AtomicI32).cast()
    }
    fn word(&self) -> &SpinWord {
        // SAFETY: `SpinWord` is a transparent `AtomicI32`, and this is one.
        unsafe { &*(&self.lock as *const AtomicI32).cast::<SpinWord>() }
    }
}

fn shared() -> Arc<Shared> {
    Arc::new(Shared { lock: AtomicI32::new(0), announce: AtomicI32::new(0) })
}

/// Fails the test instead of hanging it.
fn watchdog<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("watchdog: hung"),
    }
}

#[test]
fn c_sleepers_are_woken_by_rust_wakeup() {
    watchdog(|| {
        let s = shared();
        let sleeper = {
            let s = s.clone();
            std::thread::spawn(move || {
                for round in 1..=ROUNDS {
                    // SAFETY: pointers into `s`, alive for the call; the lock word is used only
                    // through the C functions and `SpinWord`.
                    let rc = unsafe { mixed_c_sleep(s.chan(), s.lock_ptr(), s.announce_ptr(), round) };
                    assert_eq!(rc, 0, "round {round}");
                }
            })
        };
        for round in 1..=ROUNDS {
            loop {
                s.word().lock();
                // The C thread wrote this under the lock (a plain int store, read here under it).
                if s.announce.load(Ordering::Relaxed) == round {
                    assert_eq!(wakeup(s.chan(), 1), Ok(1), "round {round}: C sleeper not found");
                    // SAFETY: locked just above.
                    unsafe { s.word().unlock() };
                    break;
                }
                // SAFETY: locked just above.
                unsafe { s.word().unlock() };
                std::thread::yield_now();
            }
        }
        sleeper.join().unwrap();
    });
}

#[test]
fn rust_sleepers_are_woken_by_c_thrwakeup() {
    watchdog(|| {
        let s = shared();
        let waker = {
            let s = s.clone();
            std::thread::spawn(move || {
                for round in 1..=ROUNDS {
                    // SAFETY: as above.
                    let rc = unsafe { mixed_c_wake_announced(s.chan(), s.lock_ptr(), s.announce_ptr(), round) };
                    assert_eq!(rc, 0, "round {round}: Rust sleeper not found by __thrwakeup");
                }
            })
        };
        for round in 1..=ROUNDS {
            s.word().lock();
            s.announce.store(round, Ordering::Relaxed);
            // SAFETY: this thread holds the word and hands its release to the sleep.
            assert_eq!(unsafe { Sleep::on(s.chan()).unlocking_raw(s.word()) }.wait(), Ok(()));
        }
        waker.join().unwrap();
    });
}
