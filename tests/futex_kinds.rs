//! Private and shared futex waits (Linux): the first 64 of wchan's threads that block at once
//! wait with private futex operations, later ones with shared operations, and every wake
//! reaches its sleeper whichever kind it chose (`src/parker/futex.rs`, "Private or shared").
//!
//! On Linux x86_64 and i686 the test reads each sleeper's blocked system call from
//! `/proc/thread-self/../syscall` and asserts the exact split (64 private, the rest shared),
//! then that a thread which blocks once they are all gone is private again. Elsewhere (other
//! systems have one kind of wait; under qemu-user the file shows the emulator's own calls)
//! it asserts what holds everywhere: every sleeper is woken by exactly one `wakeup`, in an
//! order that mixes the two kinds.
//!
//! One test in this file, so no other test of the binary sleeps on wchan meanwhile.
#![cfg(not(miri))] // threads by the hundred, and /proc

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use common::{wait_until, watchdog, HANG};

/// More sleepers than the private limit (64), so both kinds are in use at once.
const SLEEPERS: usize = 100;
const PRIVATE_MAX: usize = 64;

/// One channel per sleeper: distinct addresses.
static CHANS: [u64; SLEEPERS + 1] = [0; SLEEPERS + 1];
static WOKEN: AtomicUsize = AtomicUsize::new(0);

/// Where the kind of each blocked wait can be read: native Linux on x86_64 or i686.
const CAN_READ_KIND: bool = cfg!(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "x86")));

/// The `futex` system call number of this target.
const SYS_FUTEX: u64 = if cfg!(target_arch = "x86") { 240 } else { 202 };

/// How the thread `task` (a path like `/proc/PID/task/TID`) is blocked right now:
/// `Some(true)` in a private futex wait, `Some(false)` in a shared one, `None` not in one.
fn futex_kind(task: &str) -> Option<bool> {
    let line = std::fs::read_to_string(format!("{task}/syscall")).ok()?;
    let mut fields = line.split_whitespace();
    if fields.next()?.parse::<u64>().ok()? != SYS_FUTEX {
        return None;
    }
    let _uaddr = fields.next()?;
    let op = u64::from_str_radix(fields.next()?.trim_start_matches("0x"), 16).ok()?;
    // FUTEX_WAIT_BITSET (9) with or without FUTEX_PRIVATE_FLAG (128).
    match op {
        0x89 => Some(true),
        0x9 => Some(false),
        _ => None,
    }
}

/// Starts a thread that sleeps once on `CHANS[i]` and counts its wakeup; returns its
/// `/proc` task path once it is blocked in a futex wait (read where `CAN_READ_KIND`), or once
/// it has announced itself (elsewhere).
fn start_sleeper(i: usize) -> (String, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let task = std::fs::read_link("/proc/thread-self").map(|p| p.display().to_string()).unwrap_or_default();
            tx.send(format!("/proc/{task}")).unwrap();
            wchan::Sleep::on(&CHANS[i]).wait().expect("woken by wakeup, not an error");
            WOKEN.fetch_add(1, Ordering::Relaxed);
        })
        .expect("spawn sleeper");
    let task = rx.recv().unwrap();
    if CAN_READ_KIND {
        wait_until(HANG, "the sleeper blocks in a futex wait", || futex_kind(&task).is_some());
    }
    (task, handle)
}

#[test]
fn the_first_64_sleepers_wait_privately_the_rest_shared_and_every_wake_reaches_its_kind() {
    watchdog(HANG * 3, || {
        // One at a time, so the private count is exact when each thread chooses.
        let sleepers: Vec<_> = (0..SLEEPERS).map(start_sleeper).collect();
        if CAN_READ_KIND {
            let kinds: Vec<bool> = sleepers.iter().map(|(task, _)| futex_kind(task).expect("still blocked")).collect();
            assert_eq!(kinds.iter().filter(|&&private| private).count(), PRIVATE_MAX);
            assert!(kinds[..PRIVATE_MAX].iter().all(|&private| private), "the first 64 wait privately");
            assert!(kinds[PRIVATE_MAX..].iter().all(|&private| !private), "the rest wait shared");
        }
        // Wake from both ends towards the middle: shared and private wakes interleave.
        let order = (0..SLEEPERS / 2).flat_map(|k| [SLEEPERS - 1 - k, k]);
        for (n, i) in order.enumerate() {
            if CAN_READ_KIND {
                // Blocked in the kernel, so queued: the first wakeup finds it.
                assert_eq!(wchan::wakeup(&CHANS[i], 1), Ok(1), "sleeper {i} is queued until woken");
            } else {
                // No way to see a thread block here: retry until it has queued.
                wait_until(HANG, "the sleeper is queued", || wchan::wakeup(&CHANS[i], 1) == Ok(1));
            }
            wait_until(HANG, "the woken sleeper runs", || WOKEN.load(Ordering::Relaxed) == n + 1);
        }
        for (_, handle) in sleepers {
            handle.join().unwrap();
        }
        assert_eq!(WOKEN.load(Ordering::Relaxed), SLEEPERS);

        // Every private sleeper has left: the next thread to block is private again.
        let (task, handle) = start_sleeper(SLEEPERS);
        if CAN_READ_KIND {
            assert_eq!(futex_kind(&task), Some(true), "the count fell back to zero");
        }
        wait_until(HANG, "the last sleeper is queued", || wchan::wakeup(&CHANS[SLEEPERS], 1).is_ok());
        handle.join().unwrap();
        assert_eq!(WOKEN.load(Ordering::Relaxed), SLEEPERS + 1);
    });
}
