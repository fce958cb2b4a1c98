//! wchan in a child forked from a multi-threaded parent (DESIGN invariant 6).
//!
//! This binary holds exactly one test, so no other test thread is inside wchan when it forks.
//! The parent does keep busy threads of its own running wchan work (a contended mutex, a
//! sleep/wakeup ping-pong) while it forks. A fork copies only the forking thread: a lock some
//! other thread held at that instant stays held forever in the child. So the child uses only
//! state the busy threads never touch: its own mutex and a channel in a table bucket that none
//! of the busy threads' keys hash to (checked with `wchan::park::bucket_index`). After fork
//! the child calls only wchan and libc (no allocation, no panics: malloc's lock may be held
//! by a copied-away thread), and reports by exit status.
#![cfg(unix)] // fork(2): Unix only
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wchan::park::bucket_index;
use wchan::{wakeup, Deadline, Error, Mutex, Sleep, SpinLock};

/// wchan's primitives park on their own address, in a key space of their own
/// (`src/sync/mod.rs`); the bucket depends on the address alone.
fn internal_key<T>(x: &T) -> usize {
    x as *const T as usize
}

static BUSY_MUTEX: Mutex<u64> = Mutex::new(0);
static PING: SpinLock<u64> = SpinLock::new(0);
static CHILD_MUTEX: Mutex<u64> = Mutex::new(0);
static CHILD_CHANS: [u64; 64] = [0; 64];

/// Exit codes of the child, one per failed step.
const CHILD_OK: i32 = 0;
const LOCK_FAILED: i32 = 10;
const TIMED_LOCK_FAILED: i32 = 11;
const SLEEP_NOT_TIMED_OUT: i32 = 12;
const SLEEP_TOO_SHORT: i32 = 13;
const WAKEUP_FOUND_SLEEPER: i32 = 14;
const NULL_ID_ACCEPTED: i32 = 15;

/// The child's whole life: lock, timed lock, deadline sleep, empty wakeup.
fn child(chan: &u64) -> i32 {
    {
        let mut g = CHILD_MUTEX.lock();
        *g += 1;
        if *g != 1 {
            return LOCK_FAILED;
        }
    }
    if CHILD_MUTEX.try_lock_for(Duration::from_millis(100)).is_none() {
        return TIMED_LOCK_FAILED;
    }
    let start = Instant::now();
    if Sleep::on(chan).until(Deadline::after(Duration::from_millis(50))).wait() != Err(Error::TimedOut) {
        return SLEEP_NOT_TIMED_OUT;
    }
    if start.elapsed() < Duration::from_millis(50) {
        return SLEEP_TOO_SHORT;
    }
    if wakeup(chan, 0) != Err(Error::NoWaiters) {
        return WAKEUP_FOUND_SLEEPER;
    }
    if wakeup(std::ptr::null::<u8>(), 1) != Err(Error::InvalidArgument) {
        return NULL_ID_ACCEPTED;
    }
    CHILD_OK
}

#[test]
fn forked_child_of_a_multithreaded_parent_locks_sleeps_and_exits_0() {
    // Buckets the busy threads may hold locked at the moment of fork.
    let busy_buckets = [
        bucket_index(internal_key(&BUSY_MUTEX)),
        bucket_index(internal_key(&PING)),
        bucket_index(&PING as *const SpinLock<u64> as usize),
    ];
    let chan = CHILD_CHANS
        .iter()
        .find(|c| !busy_buckets.contains(&bucket_index(*c as *const u64 as usize)))
        .expect("a channel outside the busy buckets");

    let stop = Arc::new(AtomicBool::new(false));
    let work = Arc::new(AtomicU64::new(0));
    let mut busy = Vec::new();
    for _ in 0..2 {
        let (stop, work) = (stop.clone(), work.clone());
        busy.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                *BUSY_MUTEX.lock() += 1;
                work.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Ping-pong: the sleeper sleeps with a deadline so it never outlives `stop` by long.
    {
        let (stop_sleeper, work) = (stop.clone(), work.clone());
        busy.push(std::thread::spawn(move || {
            while !stop_sleeper.load(Ordering::Relaxed) {
                let mut g = PING.lock();
                *g += 1;
                let _ = Sleep::on(&PING).until(Deadline::after(Duration::from_millis(5))).unlocking(g).wait();
                work.fetch_add(1, Ordering::Relaxed);
            }
        }));
        let stop = stop.clone();
        busy.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = wakeup(&PING, 0);
                std::thread::yield_now();
            }
        }));
    }
    // Fork while the busy threads are demonstrably running.
    let start = Instant::now();
    while work.load(Ordering::Relaxed) < 1000 {
        assert!(start.elapsed() < Duration::from_secs(20), "busy threads made no progress");
        std::thread::yield_now();
    }

    // SAFETY: fork in a multi-threaded process: the child runs only `child` (wchan and libc
    // calls that do not allocate) and leaves with `_exit`, never returning into Rust code
    // that could touch state another thread held at the fork.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child(chan);
        // SAFETY: `_exit` ends the child without running atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }

    // Watchdog: wait for the child up to 20 s, then kill it and fail.
    let mut status = 0;
    let waited = Instant::now();
    let reaped = loop {
        // SAFETY: `pid` is our child; `status` is writable.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            break true;
        }
        assert_eq!(rc, 0, "waitpid failed");
        if waited.elapsed() > Duration::from_secs(20) {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    stop.store(true, Ordering::Relaxed);
    for t in busy {
        t.join().unwrap();
    }
    assert!(reaped, "the forked child hung and was killed");
    assert!(libc::WIFEXITED(status), "child did not exit normally (status {status:#x})");
    assert_eq!(libc::WEXITSTATUS(status), CHILD_OK, "child failed a step (see the exit codes in tests/fork.rs)");
    // The parent's own wchan state is unaffected by the child.
    assert_eq!(*CHILD_MUTEX.lock(), 0);
}
