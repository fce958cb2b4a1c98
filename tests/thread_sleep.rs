//! `wchan::thread::sleep` / `sleep_secs`: full sleeps, and real signals that cut them short.
//!
//! The signal tests are Unix only (Windows has no signals). Those that need a parker waiting
//! on wchan's own word run where one exists (Linux, FreeBSD, Apple, OpenBSD); under the
//! portable parker (`--cfg wchan_fallback_parker`) a test asserts its documented limit
//! instead: a signal does not cut a sleep short.
mod common;
#[cfg(unix)]
#[path = "common/cpu_time.rs"]
mod cpu_time;

#[cfg(unix)]
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(unix)]
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

#[cfg(unix)]
use common::wait_until;
use common::{watchdog, HANG};
#[cfg(unix)]
use cpu_time::thread_cpu_time;
use wchan::thread::{sleep, sleep_secs};

#[test]
fn zero_duration_returns_at_once() {
    watchdog(HANG, || {
        let start = Instant::now();
        assert_eq!(sleep(Duration::ZERO), Duration::ZERO);
        assert_eq!(sleep_secs(0), 0);
        assert!(start.elapsed() < Duration::from_secs(1));
    });
}

#[test]
fn full_sleep_returns_zero_and_lasts_at_least_the_time_asked() {
    watchdog(HANG, || {
        for ms in [1u64, 20, 100] {
            let asked = Duration::from_millis(ms);
            let start = Instant::now();
            assert_eq!(sleep(asked), Duration::ZERO);
            let took = start.elapsed();
            assert!(took >= asked, "slept {took:?} of {asked:?}");
            assert!(took < asked + Duration::from_secs(2), "slept {took:?} of {asked:?}");
        }
    });
}

#[test]
fn full_sleep_secs_returns_zero_and_lasts_at_least_the_time_asked() {
    watchdog(HANG, || {
        let start = Instant::now();
        assert_eq!(sleep_secs(1), 0);
        let took = start.elapsed();
        assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(3), "slept {took:?}");
    });
}

#[cfg(unix)]
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

#[cfg(unix)]
extern "C" fn on_sigusr1(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed); // async-signal-safe: one atomic
}

#[cfg(unix)]
extern "C" fn on_sigusr2(_: libc::c_int) {
    wchan::interrupt(); // async-signal-safe
}

#[cfg(unix)]
/// Installs `handler` for `signal` with `flags`.
fn install(signal: libc::c_int, handler: extern "C" fn(libc::c_int), flags: libc::c_int) {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handlers only
    // touch an atomic or call the async-signal-safe `wchan::interrupt`; the pointers passed
    // to sigemptyset/sigaction point at the local struct.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as libc::sighandler_t;
        sa.sa_flags = flags;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(signal, &sa, std::ptr::null_mut()), 0);
    }
}

#[cfg(unix)]
/// SIGUSR1: counts, installed *without* `SA_RESTART`. SIGUSR2: calls `wchan::interrupt`,
/// installed *with* `SA_RESTART`. Once for the whole test binary.
fn install_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        install(libc::SIGUSR1, on_sigusr1, 0);
        install(libc::SIGUSR2, on_sigusr2, libc::SA_RESTART);
    });
}

#[cfg(unix)]
/// Runs `sleeper` on a thread and sends it `signal` every 200 ms, starting 200 ms after it
/// says it is about to sleep, until it returns. (A signal that lands before the thread is in
/// the kernel only runs the handler; the next one interrupts the sleep.) Returns the
/// sleeper's result and how long its call took.
fn interrupt_with<T: Send + 'static>(
    signal: libc::c_int,
    sleeper: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    install_handlers();
    let starting = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let may_exit = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let t = {
        let (starting, done, may_exit) = (starting.clone(), done.clone(), may_exit.clone());
        std::thread::spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            tx.send(unsafe { libc::pthread_self() }).unwrap();
            starting.store(true, Ordering::SeqCst);
            let start = Instant::now();
            let r = sleeper();
            let took = start.elapsed();
            done.store(true, Ordering::SeqCst);
            // Stay alive until the signaller has stopped: its pthread_t must stay valid.
            wait_until(HANG, "the signaller to stop", || may_exit.load(Ordering::SeqCst));
            (r, took)
        })
    };
    let thread = rx.recv().unwrap();
    wait_until(HANG, "the sleeper to start", || starting.load(Ordering::SeqCst));
    let start = Instant::now();
    let mut next = Duration::from_millis(200);
    while !done.load(Ordering::SeqCst) {
        if start.elapsed() >= next {
            // SAFETY: the thread is alive (it waits for `may_exit`) and the signal has a handler.
            assert_eq!(unsafe { libc::pthread_kill(thread, signal) }, 0);
            next += Duration::from_millis(200);
        }
        std::thread::sleep(Duration::from_millis(5)); // pacing the signaller, not a handshake
    }
    may_exit.store(true, Ordering::SeqCst);
    t.join().unwrap()
}

#[test]
#[cfg(all(
    not(wchan_fallback_parker),
    any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
))]
fn sigusr1_mid_sleep_returns_the_time_left() {
    watchdog(HANG, || {
        let asked = Duration::from_secs(2);
        let before = SIGNALS.load(Ordering::Relaxed);
        let (left, took) = interrupt_with(libc::SIGUSR1, move || sleep(asked));
        assert!(SIGNALS.load(Ordering::Relaxed) > before, "the handler ran");
        assert!(left > Duration::from_secs(1) && left < asked, "left {left:?} after {took:?}");
        // What was slept and what is left add up to what was asked (the remainder is read
        // inside the call, so the sum can only exceed it by the call's own overhead).
        let sum = took + left;
        assert!(sum >= asked - Duration::from_millis(5), "{took:?} + {left:?}");
        assert!(sum < asked + Duration::from_millis(500), "{took:?} + {left:?}");
    });
}

#[test]
#[cfg(all(
    not(wchan_fallback_parker),
    any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
))]
fn sigusr1_mid_sleep_secs_returns_the_unslept_seconds_rounded_up() {
    watchdog(HANG, || {
        let (left, took) = interrupt_with(libc::SIGUSR1, || sleep_secs(3));
        assert!(took < Duration::from_secs(2), "interrupted early on: {took:?}");
        // 3 s minus at most 2 s slept, rounded up: 2 or 3 (3 for any stop within the first second).
        let expected = (Duration::from_secs(3) - took).as_secs_f64().ceil() as u32;
        assert!(left == expected || left + 1 == expected || left == expected + 1, "left {left} after {took:?}");
        assert!((1..=3).contains(&left), "left {left} after {took:?}");
        if took < Duration::from_millis(900) {
            assert_eq!(left, 3, "more than 2.1 s left rounds up to 3");
        }
    });
}

#[test]
#[cfg(all(
    not(wchan_fallback_parker),
    any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
))]
fn interrupt_called_from_a_sa_restart_handler_ends_the_sleep_too() {
    watchdog(HANG, || {
        let asked = Duration::from_secs(5);
        let (left, took) = interrupt_with(libc::SIGUSR2, move || sleep(asked));
        assert!(left > Duration::from_secs(3) && left < asked, "left {left:?} after {took:?}");
    });
}

#[cfg(unix)]
#[test]
fn sleep_blocks_instead_of_spinning() {
    watchdog(HANG, || {
        let cpu = thread_cpu_time();
        assert_eq!(sleep(Duration::from_millis(300)), Duration::ZERO);
        let used = thread_cpu_time() - cpu;
        assert!(used < Duration::from_millis(100), "a 300 ms sleep used {used:?} of CPU");
    });
}

#[test]
#[cfg(all(
    not(wchan_fallback_parker),
    any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
))]
fn an_endless_sleep_blocks_and_a_signal_ends_it_with_a_huge_remainder() {
    watchdog(HANG, || {
        let ((left, used), took) = interrupt_with(libc::SIGUSR1, || {
            let cpu = thread_cpu_time();
            let left = sleep(Duration::MAX);
            (left, thread_cpu_time() - cpu)
        });
        assert!(used < Duration::from_millis(100), "sleeping {took:?} used {used:?} of CPU");
        assert!(left > Duration::from_secs(1 << 40), "left {left:?}");
    });
}

/// The portable parker's documented limit, asserted: a signal does not cut a sleep short (the
/// handler runs, the sleep goes on to its deadline and reports nothing left).
#[cfg(all(
    unix,
    not(all(
        not(wchan_fallback_parker),
        any(target_os = "linux", target_os = "freebsd", target_vendor = "apple", target_os = "openbsd")
    ))
))]
#[test]
fn portable_parker_a_signal_does_not_cut_a_sleep_short() {
    watchdog(HANG, || {
        let asked = Duration::from_millis(700);
        let before = SIGNALS.load(Ordering::Relaxed);
        let (left, took) = interrupt_with(libc::SIGUSR1, move || sleep(asked));
        assert!(SIGNALS.load(Ordering::Relaxed) > before, "the handler ran");
        assert_eq!(left, Duration::ZERO, "the sleep ran to its end");
        assert!(took >= asked, "slept {took:?} of {asked:?}");
    });
}
