//! `Sleep::unlocking_raw`: a raw lock (no guard) is released once the sleeper is queued, and
//! exactly once in every outcome, as `Sleep::unlocking` does with a guard.
mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{watchdog, HANG};
use lock_api::RawMutex as _;
use wchan::{wakeup, Clock, Deadline, Error, Sleep, Timespec};

/// A lock that counts its unlocks, to prove "exactly once".
struct CountingLock {
    locked: AtomicBool,
    unlocks: AtomicUsize,
}

// SAFETY: `lock` spins until it flips `locked` from false to true (Acquire), `unlock` stores
// false (Release): a plain test-and-set lock, one holder at a time.
unsafe impl lock_api::RawMutex for CountingLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: CountingLock = CountingLock { locked: AtomicBool::new(false), unlocks: AtomicUsize::new(0) };
    type GuardMarker = lock_api::GuardSend;

    fn lock(&self) {
        while !self.try_lock() {
            std::thread::yield_now();
        }
    }

    fn try_lock(&self) -> bool {
        self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    unsafe fn unlock(&self) {
        self.unlocks.fetch_add(1, Ordering::Relaxed);
        self.locked.store(false, Ordering::Release);
    }
}

fn held() -> CountingLock {
    let l = CountingLock::INIT;
    l.lock();
    l
}

#[test]
fn raw_lock_is_released_exactly_once_in_every_outcome() {
    watchdog(HANG, || {
        let chan = 0u8;
        let set = AtomicBool::new(true);
        let past = Deadline::new(Clock::Monotonic, Timespec::new(0, 0)).unwrap();
        let soon = Deadline::after(Duration::from_millis(2));

        let l = held();
        // SAFETY: this thread holds `l` and hands its unlock over.
        assert_eq!(unsafe { Sleep::on(std::ptr::null::<u8>()).unlocking_raw(&l) }.wait(), Err(Error::InvalidArgument));
        assert_eq!((l.locked.load(Ordering::Relaxed), l.unlocks.load(Ordering::Relaxed)), (false, 1));

        let l = held();
        // SAFETY: as above.
        assert_eq!(unsafe { Sleep::on(&chan).unlocking_raw(&l) }.until(past).wait(), Err(Error::TimedOut));
        assert_eq!((l.locked.load(Ordering::Relaxed), l.unlocks.load(Ordering::Relaxed)), (false, 1));

        let l = held();
        // SAFETY: as above.
        assert_eq!(unsafe { Sleep::on(&chan).unlocking_raw(&l) }.until(soon).wait(), Err(Error::TimedOut));
        assert_eq!((l.locked.load(Ordering::Relaxed), l.unlocks.load(Ordering::Relaxed)), (false, 1));

        let l = held();
        // SAFETY: as above.
        assert_eq!(unsafe { Sleep::on(&chan).unlocking_raw(&l) }.abort_if(&set).wait(), Err(Error::Interrupted));
        assert_eq!((l.locked.load(Ordering::Relaxed), l.unlocks.load(Ordering::Relaxed)), (false, 1));

        // Dropped without waiting: the hold still ends.
        let l = held();
        // SAFETY: as above.
        drop(unsafe { Sleep::on(&chan).unlocking_raw(&l) });
        assert_eq!((l.locked.load(Ordering::Relaxed), l.unlocks.load(Ordering::Relaxed)), (false, 1));
    });
}

/// The hand-off: the sleeper announces itself under the raw lock and sleeps releasing it; a
/// waker that sees the announcement under the lock always finds it queued (10 000 rounds).
#[test]
fn raw_lock_is_released_only_after_the_sleeper_is_queued() {
    const ROUNDS: u32 = 10_000;
    watchdog(Duration::from_secs(60), || {
        let shared = Arc::new((wchan::RawMutex::INIT, AtomicU32::new(0)));
        let sleeper = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (raw, round) = &*shared;
                for i in 1..=ROUNDS {
                    raw.lock();
                    round.store(i, Ordering::Relaxed); // under the lock
                                                       // SAFETY: this thread holds `raw` and hands its unlock over.
                    assert_eq!(unsafe { Sleep::on(round).unlocking_raw(raw) }.wait(), Ok(()));
                }
            })
        };
        let (raw, round) = &*shared;
        for i in 1..=ROUNDS {
            loop {
                raw.lock();
                if round.load(Ordering::Relaxed) == i {
                    // Seen under the lock, so the sleeper released it, so it is queued.
                    assert_eq!(wakeup(round, 1), Ok(1), "round {i}: sleeper not queued");
                    // SAFETY: locked just above by this thread.
                    unsafe { raw.unlock() };
                    break;
                }
                // SAFETY: locked just above by this thread.
                unsafe { raw.unlock() };
                std::thread::yield_now();
            }
        }
        sleeper.join().unwrap();
    });
}
