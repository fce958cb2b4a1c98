//! The abort flag and signals: a flag set before the sleep interrupts it without blocking, a
//! flag set before a wakeup is never missed, a real SIGUSR1 ends a sleep (without SA_RESTART
//! on its own; with SA_RESTART when the handler sets the flag and calls `wchan::interrupt`),
//! even when the signal lands right around the flag check.
//!
//! Signal dispositions are process-wide, so the file has one SIGUSR1 handler whose behaviour
//! is chosen by `MODE`, and the signal tests hold `SIGNAL_TESTS` so they never overlap.
//!
//! Unix only (Windows has no signals; `docs/platforms.md` says what `interrupt` means there).
//! The signal tests that need a parker waiting on wchan's own word (Linux, FreeBSD, Apple,
//! OpenBSD) are built only there; under the portable parker (`--cfg wchan_fallback_parker`,
//! run on Linux by `.ci/platforms.sh`) the tests at the end assert its documented limits
//! instead: a signal does not end an untimed blocked sleep, and `interrupt()` is seen at the
//! thread's next return from std's park.
#![cfg(unix)]
mod common;

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use common::{wait_until, watchdog, HANG};
use wchan::{wakeup, Error, Sleep, SpinLock};

#[test]
fn abort_flag_set_before_the_sleep_interrupts_without_blocking() {
    watchdog(HANG, || {
        let chan = 0u64;
        let lock = SpinLock::new(());
        let flag = AtomicBool::new(true);
        // No deadline: if the flag were not read, this would block until the watchdog fires.
        let r = Sleep::on(&chan).abort_if(&flag).unlocking(lock.lock()).wait();
        assert_eq!(r, Err(Error::Interrupted));
        assert_eq!(r.unwrap_err().errno(), libc::EINTR);
        assert!(!lock.is_locked(), "the guard is released");
        assert_eq!(wakeup(&chan, 0), Err(Error::NoWaiters), "the interrupted sleeper left the queue");
        assert!(flag.load(Ordering::Relaxed), "wchan does not clear the flag");
    });
}

#[test]
fn abort_flag_set_then_wakeup_is_never_missed() {
    const ROUNDS: usize = 2000;
    watchdog(HANG, || {
        let chan = Arc::new(0u64);
        let flag = Arc::new(AtomicBool::new(false));
        // Round number the sleeper may start (set by the waker) / has finished (by the sleeper).
        let go = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let lock = Arc::new(SpinLock::new(0usize));
        let sleeper = {
            let (chan, flag, go, finished, lock) =
                (chan.clone(), flag.clone(), go.clone(), finished.clone(), lock.clone());
            std::thread::spawn(move || {
                let (mut ok, mut interrupted) = (0, 0);
                for round in 1..=ROUNDS {
                    wait_until(HANG, "go", || go.load(Ordering::SeqCst) >= round);
                    let mut g = lock.lock();
                    *g = round; // "queued in round `round`", for the waker's odd rounds
                    match Sleep::on(&*chan).abort_if(&flag).unlocking(g).wait() {
                        Ok(()) => ok += 1,
                        Err(Error::Interrupted) => interrupted += 1,
                        Err(e) => panic!("round {round}: {e:?}"),
                    }
                    finished.store(round, Ordering::SeqCst);
                }
                (ok, interrupted)
            })
        };
        let mut woken = 0;
        let mut spin = 1u32;
        for round in 1..=ROUNDS {
            flag.store(false, Ordering::SeqCst);
            go.store(round, Ordering::SeqCst);
            if round % 2 == 1 {
                // The sleeper is queued; the flag lands around its check.
                wait_until(HANG, "sleeper queued", || *lock.lock() == round);
            } else {
                // A varying delay: the flag lands before, during or after the queueing.
                spin = spin.wrapping_mul(1_103_515_245).wrapping_add(12345);
                for _ in 0..(spin >> 20) % 2000 {
                    std::hint::spin_loop();
                }
            }
            flag.store(true, Ordering::SeqCst);
            match wakeup(&*chan, 1) {
                Ok(k) => woken += k,
                Err(Error::NoWaiters) => {}
                Err(e) => panic!("round {round}: {e:?}"),
            }
            // Neither the wakeup nor the flag may be lost: the sleep ends without more help.
            wait_until(HANG, "the sleep to end", || finished.load(Ordering::SeqCst) == round);
        }
        let (ok, interrupted) = sleeper.join().unwrap();
        assert_eq!(ok + interrupted, ROUNDS);
        assert_eq!(woken, ok, "each wakeup that found the sleeper made it return Ok");
        eprintln!("flag then wakeup: {ok} woken, {interrupted} interrupted");
    });
}

// ---- signals -------------------------------------------------------------------------------

/// What the SIGUSR1 handler does besides counting.
const JUST_COUNT: u8 = 0;
const ABORT_AND_INTERRUPT: u8 = 1;

static MODE: AtomicU8 = AtomicU8::new(JUST_COUNT);
static HANDLED: AtomicUsize = AtomicUsize::new(0);
/// The abort flag the handler sets in `ABORT_AND_INTERRUPT` mode.
static ABORT: AtomicBool = AtomicBool::new(false);
static SIGNAL_TESTS: Mutex<()> = Mutex::new(());

extern "C" fn on_sigusr1(_: libc::c_int) {
    // Only atomics and `wchan::interrupt`, which is async-signal-safe. Relaxed: the handler
    // runs on the thread that reads these (or the test only needs the eventual count).
    if MODE.load(Ordering::Relaxed) == ABORT_AND_INTERRUPT {
        ABORT.store(true, Ordering::Relaxed);
        wchan::interrupt();
    }
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// Serializes the signal tests and installs the handler with `flags` in `mode`.
fn signal_test(flags: libc::c_int, mode: u8) -> MutexGuard<'static, ()> {
    let serial = SIGNAL_TESTS.lock().unwrap_or_else(|p| p.into_inner());
    MODE.store(mode, Ordering::SeqCst);
    ABORT.store(false, Ordering::SeqCst);
    // SAFETY: a zeroed sigaction is "no flags, empty mask"; sigemptyset and sigaction get
    // pointers to that local struct; the handler only touches atomics and calls
    // `wchan::interrupt`, both async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = flags;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    serial
}

fn kill(thread: libc::pthread_t) {
    // SAFETY: `thread` is a thread not yet joined (its JoinHandle is alive), and SIGUSR1 has a
    // handler.
    assert_eq!(unsafe { libc::pthread_kill(thread, libc::SIGUSR1) }, 0);
}

#[cfg(all(
    not(wchan_fallback_parker),
    any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
))]
/// Starts an untimed sleeper on its own channel (optionally with `ABORT` as its abort flag),
/// waits until it is queued, then signals it until its sleep ends: every 20 ms without the
/// flag (a signal that lands after the queueing but before the thread is in the kernel only
/// runs the handler then; the next one reaches it asleep), every 5 s with it (one signal must
/// do). Returns the sleep's result.
fn signal_a_sleeper(with_abort: bool) -> Result<(), Error> {
    let lock = Arc::new(SpinLock::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let sleeper = {
        let (lock, done) = (lock.clone(), done.clone());
        std::thread::spawn(move || {
            let mut g = lock.lock();
            *g = true;
            let sleep = Sleep::on(&*lock).unlocking(g);
            let r = if with_abort { sleep.abort_if(&ABORT).wait() } else { sleep.wait() };
            done.store(true, Ordering::SeqCst);
            r
        })
    };
    wait_until(HANG, "sleeper queued", || *lock.lock());
    let thread = sleeper.as_pthread_t();
    let pace = if with_abort { Duration::from_secs(5) } else { Duration::from_millis(20) };
    let start = std::time::Instant::now();
    while !done.load(Ordering::SeqCst) {
        assert!(start.elapsed() < Duration::from_secs(12), "the signals never ended the sleep");
        kill(thread);
        let sent = std::time::Instant::now();
        // Pacing the signals, not a settle delay: stop as soon as the sleep ends.
        while !done.load(Ordering::SeqCst) && sent.elapsed() < pace {
            std::thread::yield_now();
        }
    }
    let r = sleeper.join().unwrap();
    // Nobody called wakeup: the sleeper is gone from the queue whatever ended it.
    assert_eq!(wakeup(&*lock, 0), Err(Error::NoWaiters));
    r
}

#[cfg(all(
    not(wchan_fallback_parker),
    any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
))]
#[test]
fn sigusr1_without_sa_restart_interrupts_an_untimed_sleep() {
    watchdog(HANG, || {
        let _serial = signal_test(0, JUST_COUNT);
        let r = signal_a_sleeper(false);
        assert_eq!(r, Err(Error::Interrupted));
        assert_eq!(r.unwrap_err().errno(), libc::EINTR);
    });
}

#[test]
fn sigusr1_with_sa_restart_and_no_interrupt_does_not_end_the_sleep() {
    watchdog(HANG, || {
        let _serial = signal_test(libc::SA_RESTART, JUST_COUNT);
        let lock = Arc::new(SpinLock::new(false));
        let sleeper = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let mut g = lock.lock();
                *g = true;
                Sleep::on(&*lock).unlocking(g).wait()
            })
        };
        wait_until(HANG, "sleeper queued", || *lock.lock());
        for _ in 0..5 {
            let before = HANDLED.load(Ordering::SeqCst);
            kill(sleeper.as_pthread_t());
            wait_until(HANG, "the handler to run", || HANDLED.load(Ordering::SeqCst) > before);
        }
        // The restarted wait kept the sleeper queued: the wakeup finds it.
        assert_eq!(wakeup(&*lock, 0), Ok(1));
        assert_eq!(sleeper.join().unwrap(), Ok(()));
    });
}

#[cfg(all(
    not(wchan_fallback_parker),
    any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
))]
#[test]
fn handler_that_sets_abort_and_calls_interrupt_ends_the_sleep_with_sa_restart() {
    watchdog(HANG, || {
        let _serial = signal_test(libc::SA_RESTART, ABORT_AND_INTERRUPT);
        let before = HANDLED.load(Ordering::SeqCst);
        let r = signal_a_sleeper(true);
        assert_eq!(r, Err(Error::Interrupted));
        // One signal is enough whenever it lands: before the flag check, after it, or in the
        // kernel.
        assert_eq!(HANDLED.load(Ordering::SeqCst) - before, 1, "one signal ended the sleep");
    });
}

#[cfg(all(
    not(wchan_fallback_parker),
    any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
))]
#[test]
fn handler_that_sets_abort_and_calls_interrupt_ends_the_sleep_without_sa_restart() {
    watchdog(HANG, || {
        let _serial = signal_test(0, ABORT_AND_INTERRUPT);
        let before = HANDLED.load(Ordering::SeqCst);
        assert_eq!(signal_a_sleeper(true), Err(Error::Interrupted));
        assert_eq!(HANDLED.load(Ordering::SeqCst) - before, 1);
    });
}

/// One signal per sleep, fired after a random delay, so it lands at every point around the
/// flag check and the kernel wait. The sleeps are untimed: with SA_RESTART the kernel would
/// restart the wait after the handler, so only the flag and `wchan::interrupt` can end it.
/// (A timed futex wait is not restarted after a handler, so it would hide a missed interrupt
/// except in the narrow window between the flag check and the syscall.) A sleep that misses
/// its signal is rescued by a wakeup after 2 s and fails the test.
#[cfg(all(
    not(wchan_fallback_parker),
    any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
))]
#[test]
fn signal_at_random_points_around_the_flag_check_always_ends_the_sleep() {
    const ROUNDS: usize = 400;
    watchdog(Duration::from_secs(60), || {
        let _serial = signal_test(libc::SA_RESTART, ABORT_AND_INTERRUPT);
        let chan = Arc::new(0u64);
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let sleeper = {
            let (chan, started, finished) = (chan.clone(), started.clone(), finished.clone());
            std::thread::spawn(move || {
                let mut long = 0;
                for round in 1..=ROUNDS {
                    ABORT.store(false, Ordering::SeqCst);
                    // SeqCst: the signaller fires only after it sees this, so after the reset.
                    started.store(round, Ordering::SeqCst);
                    let begin = std::time::Instant::now();
                    let r = Sleep::on(&*chan).abort_if(&ABORT).wait();
                    long += usize::from(begin.elapsed() > Duration::from_micros(50));
                    finished.store(round, Ordering::SeqCst);
                    if r != Err(Error::Interrupted) {
                        return Err(format!("round {round}: {r:?} (the signal was missed)"));
                    }
                }
                Ok(long)
            })
        };
        let thread = sleeper.as_pthread_t();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for round in 1..=ROUNDS {
            wait_until(HANG, "the round to start", || started.load(Ordering::SeqCst) == round);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 2 == 0 {
                // A few µs: the signal lands around the flag check.
                for _ in 0..x % 4000 {
                    std::hint::spin_loop();
                }
            } else {
                // Up to 150 µs: the signal often finds the thread in the kernel.
                let delay = Duration::from_nanos(x % 150_000);
                let begin = std::time::Instant::now();
                while begin.elapsed() < delay {
                    std::hint::spin_loop();
                }
            }
            let before = HANDLED.load(Ordering::SeqCst);
            kill(thread);
            let sent = std::time::Instant::now();
            while finished.load(Ordering::SeqCst) != round {
                if sent.elapsed() > Duration::from_secs(2) {
                    // Missed: rescue the sleeper so it can report, then fail below.
                    let _ = wakeup(&*chan, 0);
                }
                std::thread::yield_now();
            }
            if sleeper.is_finished() && round < ROUNDS {
                break;
            }
            assert_eq!(HANDLED.load(Ordering::SeqCst) - before, 1, "round {round}");
        }
        let long = sleeper.join().unwrap().unwrap_or_else(|missed| panic!("{missed}"));
        eprintln!("random signals: {long} of {ROUNDS} sleeps lasted over 50 µs (signal found them blocked)");
    });
}

/// The thread's scheduler state letter from `/proc/self/task/<tid>/stat` (`S`: asleep).
#[cfg(all(wchan_fallback_parker, target_os = "linux"))]
fn task_state(tid: libc::pid_t) -> u8 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    // The state follows the command name, which is in parentheses and may hold spaces.
    stat.as_bytes()[stat.rfind(')').unwrap() + 2]
}

/// The portable parker's documented limit, asserted: it blocks in std's `park`, not on wchan's
/// word, so neither a signal nor `interrupt()` from the handler ends an untimed sleep (with or
/// without `SA_RESTART`); the interrupt is seen at the thread's next return from `park`, here
/// forced with `Thread::unpark`, and the sleep then reports `Interrupted`.
#[cfg(all(wchan_fallback_parker, target_os = "linux"))]
#[test]
fn portable_parker_a_signal_does_not_end_an_untimed_sleep_but_interrupt_is_seen_at_the_next_wake() {
    watchdog(HANG, || {
        for flags in [0, libc::SA_RESTART] {
            let _serial = signal_test(flags, ABORT_AND_INTERRUPT);
            let lock = Arc::new(SpinLock::new(false));
            let (tx, rx) = std::sync::mpsc::channel();
            let sleeper = {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    // SAFETY: gettid has no preconditions.
                    tx.send(unsafe { libc::gettid() }).unwrap();
                    let mut g = lock.lock();
                    *g = true;
                    Sleep::on(&*lock).unlocking(g).abort_if(&ABORT).wait()
                })
            };
            let tid = rx.recv().unwrap();
            wait_until(HANG, "sleeper queued", || *lock.lock());
            // Blocked in the kernel (std's park), past the abort-flag check.
            wait_until(HANG, "sleeper blocked", || task_state(tid) == b'S');
            let before = HANDLED.load(Ordering::SeqCst);
            kill(sleeper.as_pthread_t());
            wait_until(HANG, "the handler to run", || HANDLED.load(Ordering::SeqCst) > before);
            assert!(ABORT.load(Ordering::SeqCst), "the handler set the flag and called interrupt()");
            let since = std::time::Instant::now();
            while since.elapsed() < Duration::from_millis(300) {
                assert!(
                    !sleeper.is_finished(),
                    "flags {flags:#x}: the signal ended the sleep after {:?}",
                    since.elapsed()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            sleeper.thread().unpark();
            assert_eq!(sleeper.join().unwrap(), Err(Error::Interrupted), "flags {flags:#x}");
            assert_eq!(wakeup(&*lock, 0), Err(Error::NoWaiters), "the interrupted sleeper left the queue");
        }
    });
}

/// Under the portable parker a signal whose handler only counts leaves an untimed sleep
/// queued, with or without `SA_RESTART`: the wakeup still finds it.
#[cfg(all(wchan_fallback_parker, target_os = "linux"))]
#[test]
fn portable_parker_a_plain_signal_leaves_the_sleeper_queued_for_its_wakeup() {
    watchdog(HANG, || {
        for flags in [0, libc::SA_RESTART] {
            let _serial = signal_test(flags, JUST_COUNT);
            let lock = Arc::new(SpinLock::new(false));
            let sleeper = {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    let mut g = lock.lock();
                    *g = true;
                    Sleep::on(&*lock).unlocking(g).wait()
                })
            };
            wait_until(HANG, "sleeper queued", || *lock.lock());
            for _ in 0..3 {
                let before = HANDLED.load(Ordering::SeqCst);
                kill(sleeper.as_pthread_t());
                wait_until(HANG, "the handler to run", || HANDLED.load(Ordering::SeqCst) > before);
            }
            assert!(!sleeper.is_finished(), "flags {flags:#x}: a plain signal ended the sleep");
            assert_eq!(wakeup(&*lock, 0), Ok(1), "flags {flags:#x}");
            assert_eq!(sleeper.join().unwrap(), Ok(()));
        }
    });
}
