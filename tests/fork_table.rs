//! The table across `fork(2)` (issue 9, item 3; `src/fork.rs`): a child never sees its
//! parent's sleepers or a bucket lock a parent thread held, whatever the parent was doing.
//!
//! Each child runs a closure and reports by exit status (0 = every check passed; another code
//! names the failed check); a panic in the child exits 99. The parent reaps each child with a
//! 20 s watchdog and kills it if it hangs. Children spawn threads of their own: glibc hands
//! them the stacks of the parent's threads that did not survive the fork, which is what turned
//! stale queue entries into crashes before the fix.
#![cfg(unix)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_until, HANG};
use wchan::park::{self, ParkOptions, ParkResult, RequeueOp, UnparkToken, DEFAULT_UNPARK_TOKEN};
use wchan::{wakeup, Condvar, Deadline, Error, Mutex, Sleep, SpinLock};

/// Forks; the child runs `f` and exits with its code (99 if it panics). Returns the child's
/// exit code; fails the test if the child hangs for 20 s or dies from a signal.
fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs `f` and leaves with `_exit`, never returning into the test
    // harness; what `f` may call is discussed in each test.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(99);
        // SAFETY: ends the child without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    reap(pid, "the forked child hung (deadlocked?) and was killed")
}

/// Waits for child `pid` to exit and returns its exit code; kills it and fails with `hung` if
/// it runs for 20 s, and fails if a signal ended it.
fn reap(pid: libc::pid_t, hung: &str) -> i32 {
    let (mut status, start) = (0, Instant::now());
    loop {
        // SAFETY: `pid` is our child; `status` is writable.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            break;
        }
        assert_eq!(rc, 0, "waitpid failed");
        if start.elapsed() > Duration::from_secs(20) {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("{hung}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(libc::WIFEXITED(status), "the child died from signal {} (crashed?)", libc::WTERMSIG(status));
    libc::WEXITSTATUS(status)
}

/// A check inside a child: the code to exit with if it fails.
macro_rules! check {
    ($cond:expr, $code:expr) => {
        if !$cond {
            return $code;
        }
    };
}

static CHAN: SpinLock<bool> = SpinLock::new(false);

/// The reproduction: a parent thread asleep on CHAN at the fork; in the child,
/// `wakeup(&CHAN, 1)` must reach the child's own sleeper, exactly one, and it returns `Ok`.
#[test]
fn child_wakeup_reaches_the_childs_own_sleeper_not_the_parents() {
    // A parent thread asleep on CHAN (untimed), queued before the fork.
    let parent_sleeper = std::thread::spawn(|| {
        let mut asleep = CHAN.lock();
        *asleep = true;
        Sleep::on(&CHAN).unlocking(asleep).wait()
    });
    wait_until(HANG, "the parent's sleeper is queued", || *CHAN.lock());

    let code = in_child(|| {
        *CHAN.lock() = false;
        let result = Arc::new(AtomicI32::new(-1));
        let sleeper = {
            let result = result.clone();
            std::thread::spawn(move || {
                let mut asleep = CHAN.lock();
                *asleep = true;
                let r = Sleep::on(&CHAN).unlocking(asleep).wait();
                result.store(if r == Ok(()) { 0 } else { 1 }, Ordering::SeqCst);
            })
        };
        let start = Instant::now();
        loop {
            let asleep = CHAN.lock();
            if *asleep {
                // The child's sleeper took the lock, set the flag and was queued before it
                // released the lock: it is the only sleeper this wakeup may find.
                check!(wakeup(&CHAN, 1) == Ok(1), 10);
                break;
            }
            drop(asleep);
            check!(start.elapsed() < Duration::from_secs(10), 11);
            std::thread::yield_now();
        }
        check!(sleeper.join().is_ok(), 12);
        check!(result.load(Ordering::SeqCst) == 0, 13);
        check!(wakeup(&CHAN, 0) == Err(Error::NoWaiters), 14);
        0
    });
    assert_eq!(code, 0, "child check failed (codes in the test)");
    // The parent's sleeper is untouched by the child and still exactly one.
    assert_eq!(wakeup(&CHAN, 0), Ok(1));
    assert_eq!(parent_sleeper.join().unwrap(), Ok(()));
}

static BUSY_CHANS: [u64; 8] = [0; 8];
static BUSY_MUTEX: Mutex<u64> = Mutex::new(0);
static BUSY_CV: Condvar = Condvar::new();
static BUSY_CV_MUTEX: Mutex<u64> = Mutex::new(0);
static PARK_KEYS: [u64; 2] = [0; 2];

/// Forks 40 times while parent threads hammer every path of the table (channel sleeps and
/// wakeups, a contended Mutex, Condvar waits and notifies, park-API parks and requeues) on
/// keys that the child then uses too. Every child must finish every check: no deadlock on a
/// bucket lock a parent thread held, no crash on a parent sleeper's node, no stale Condvar
/// state followed or mistaken for misuse.
#[test]
fn fork_while_threads_hammer_the_table_never_breaks_the_child() {
    let stop = Arc::new(AtomicBool::new(false));
    let work = Arc::new(AtomicU64::new(0));
    let mut busy = Vec::new();
    for t in 0..5usize {
        let (stop, work) = (stop.clone(), work.clone());
        busy.push(std::thread::spawn(move || {
            let mut i = t as u64;
            while !stop.load(Ordering::Relaxed) {
                i = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let c = &BUSY_CHANS[(i >> 33) as usize % 8];
                match t {
                    0 | 1 => {
                        let d = Deadline::after(Duration::from_micros((i >> 40) % 300));
                        let _ = Sleep::on(c).until(d).wait();
                        let _ = wakeup(c, 0);
                    }
                    2 => {
                        *BUSY_MUTEX.lock() += 1;
                        let mut g = BUSY_CV_MUTEX.lock();
                        *g += 1;
                        let _ = BUSY_CV.wait_for(&mut g, Duration::from_micros(200));
                    }
                    3 => {
                        *BUSY_MUTEX.lock() += 1;
                        BUSY_CV.notify_all();
                        BUSY_CV.notify_one();
                    }
                    _ => {
                        let (from, to) = (&PARK_KEYS[0] as *const u64 as usize, &PARK_KEYS[1] as *const u64 as usize);
                        // SAFETY: PARK_KEYS are this test's own keys; every park on them has a
                        // deadline and every token is ignored.
                        unsafe {
                            let d = Deadline::after(Duration::from_micros(100));
                            park::park(from, ParkOptions::new().deadline(d), || true, || {}, |_, _| {});
                            park::unpark_requeue(from, to, || RequeueOp::RequeueAll, |_, _| DEFAULT_UNPARK_TOKEN);
                            park::unpark_all(to, DEFAULT_UNPARK_TOKEN);
                        }
                    }
                }
                work.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // A parent thread asleep untimed on each channel the children use, so stale sleepers exist.
    let parked: Vec<_> = BUSY_CHANS[..2].iter().map(|c| std::thread::spawn(move || Sleep::on(c).wait())).collect();
    wait_until(HANG, "the busy threads run", || work.load(Ordering::Relaxed) > 500);

    for round in 0..40 {
        let code = in_child(|| {
            // The child's own lock: a wchan Mutex a parent thread held at the fork stays held
            // in the child (as with any mutex), so the child does not touch BUSY_MUTEX.
            let mine = Mutex::new(0u32);
            *mine.lock() += 1;
            check!(mine.try_lock_for(Duration::from_millis(1)).is_some(), 20);
            // Every busy channel: nobody asleep in the child, a deadline sleep times out.
            for c in &BUSY_CHANS {
                check!(wakeup(c, 0) == Err(Error::NoWaiters), 21);
                let d = Deadline::after(Duration::from_micros(200));
                check!(Sleep::on(c).until(d).wait() == Err(Error::TimedOut), 22);
            }
            // The parent's Condvar, stale state and all: notifies find nobody, and a wait with
            // the child's own mutex times out instead of panicking about two mutexes.
            check!(BUSY_CV.notify_all() == 0, 23);
            check!(!BUSY_CV.notify_one(), 24);
            let mut g = mine.lock();
            check!(BUSY_CV.wait_for(&mut g, Duration::from_millis(1)).timed_out(), 25);
            drop(g);
            // The park keys: nobody parked; a thread of the child parks and is woken, exactly.
            let key = &PARK_KEYS[1] as *const u64 as usize;
            // SAFETY: as in the parent's busy thread.
            check!(unsafe { park::unpark_all(key, DEFAULT_UNPARK_TOKEN) } == 0, 26);
            let queued = Arc::new(AtomicUsize::new(0));
            let t = {
                let queued = queued.clone();
                // SAFETY: as above; the test's own key and protocol.
                std::thread::spawn(move || unsafe {
                    let count = || queued.fetch_add(1, Ordering::SeqCst) == 0;
                    park::park(key, ParkOptions::new(), count, || {}, |_, _| {})
                })
            };
            let start = Instant::now();
            while queued.load(Ordering::SeqCst) == 0 {
                check!(start.elapsed() < Duration::from_secs(10), 27);
                std::thread::yield_now();
            }
            // SAFETY: as above.
            check!(unsafe { park::unpark_one(key, |_| UnparkToken(7)) }.unparked == 1, 28);
            check!(t.join().ok() == Some(ParkResult::Unparked(UnparkToken(7))), 29);
            0
        });
        assert_eq!(code, 0, "round {round}: child check failed (codes in the test)");
    }
    stop.store(true, Ordering::Relaxed);
    for t in busy {
        t.join().unwrap();
    }
    for c in &BUSY_CHANS[..2] {
        wait_until(HANG, "the parked parent threads are woken", || {
            wakeup(c, 0).is_ok() || parked.iter().all(|p| p.is_finished())
        });
    }
    for p in parked {
        assert_eq!(p.join().unwrap(), Ok(()));
    }
}

/// A thread that forks from its own `before_sleep` (queued, not yet blocked): in the child
/// its copy of the sleep ends at once as a spurious wake (its queue was discarded, so nothing
/// else could end it); in the parent the sleep goes on and a wake reaches it with its token.
#[test]
fn fork_from_before_sleep_ends_the_childs_copy_as_a_spurious_wake() {
    let key = Box::leak(Box::new(0u64)) as *const u64 as usize;
    let child_pid = Arc::new(AtomicI32::new(0));
    let queued = Arc::new(AtomicBool::new(false));
    let sleeper = {
        let (child_pid, queued) = (child_pid.clone(), queued.clone());
        std::thread::spawn(move || {
            let before_sleep = || {
                // SAFETY: the child below only parks-returns and `_exit`s.
                let pid = unsafe { libc::fork() };
                child_pid.store(pid, Ordering::SeqCst);
            };
            // SAFETY: `key` is this test's own leaked key.
            let r = unsafe { park::park(key, ParkOptions::new(), || true, before_sleep, |_, _| {}) };
            if child_pid.load(Ordering::SeqCst) == 0 {
                // The child: the untimed park must have returned, as a spurious wake.
                let code = if r == ParkResult::Unparked(DEFAULT_UNPARK_TOKEN) { 0 } else { 40 };
                // SAFETY: ends the child without returning into the harness.
                unsafe { libc::_exit(code) };
            }
            queued.store(true, Ordering::SeqCst);
            r
        })
    };
    wait_until(HANG, "the fork happened", || child_pid.load(Ordering::SeqCst) > 0);
    let code = reap(child_pid.load(Ordering::SeqCst), "the child's copy of the sleep never ended");
    assert_eq!(code, 0, "the child's exit code");
    // The parent's sleep is still queued: exactly one wake reaches it, with its token.
    assert!(!queued.load(Ordering::SeqCst), "the parent's park returned without a wake");
    // SAFETY: the test's own key.
    wait_until(
        HANG,
        "the parent's sleeper is woken",
        || unsafe { park::unpark_one(key, |_| UnparkToken(9)) }.unparked == 1,
    );
    assert_eq!(sleeper.join().unwrap(), ParkResult::Unparked(UnparkToken(9)));
}

/// In the parent, the forking thread heads `key`'s queue. In the child, one of the child's
/// own threads parks on `key` before the forking thread's copy of the sleep sees its abort
/// flag and takes itself off the queue: that node was queued in the table the child emptied,
/// so it must touch nothing (unlinking it from the child's queue, where the child's own thread
/// is now the head, would cut that thread off).
#[test]
fn an_aborted_sleep_forked_from_before_sleep_leaves_the_childs_own_queue_intact() {
    let key = Box::leak(Box::new(0u64)) as *const u64 as usize;
    let child_pid = Arc::new(AtomicI32::new(0));
    let abort = Arc::new(AtomicBool::new(false));
    let sleeper = {
        let (child_pid, abort) = (child_pid.clone(), abort.clone());
        std::thread::spawn(move || {
            let mut child_thread = None;
            let before_sleep = || {
                // SAFETY: the child below starts one thread, parks, and `_exit`s.
                let pid = unsafe { libc::fork() };
                child_pid.store(pid, Ordering::SeqCst);
                if pid != 0 {
                    return;
                }
                let queued = Arc::new(AtomicBool::new(false));
                let q = queued.clone();
                child_thread = Some(std::thread::spawn(move || {
                    // SAFETY: `key` is this test's own leaked key.
                    unsafe {
                        park::park(key, ParkOptions::new(), || true, || q.store(true, Ordering::SeqCst), |_, _| {})
                    }
                }));
                while !queued.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                abort.store(true, Ordering::SeqCst);
            };
            let options = ParkOptions::new().abort_if(&abort);
            // SAFETY: `key` is this test's own leaked key.
            let r = unsafe { park::park(key, options, || true, before_sleep, |_, _| {}) };
            if child_pid.load(Ordering::SeqCst) == 0 {
                // The child: the copy of the sleep ends as a wake (its node is gone with the
                // parent's table), and the child's own sleeper is still queued, alone.
                let code = (|| {
                    check!(r == ParkResult::Unparked(DEFAULT_UNPARK_TOKEN), 41);
                    // SAFETY: the test's own key.
                    check!(unsafe { park::unpark_one(key, |_| UnparkToken(5)) }.unparked == 1, 42);
                    let own = child_thread.take().expect("started").join();
                    check!(matches!(own, Ok(ParkResult::Unparked(UnparkToken(5)))), 43);
                    // SAFETY: the test's own key.
                    check!(unsafe { park::unpark_all(key, DEFAULT_UNPARK_TOKEN) } == 0, 44);
                    0
                })();
                // SAFETY: ends the child without returning into the harness.
                unsafe { libc::_exit(code) };
            }
            r
        })
    };
    wait_until(HANG, "the fork happened", || child_pid.load(Ordering::SeqCst) > 0);
    let code = reap(child_pid.load(Ordering::SeqCst), "the child hung");
    assert_eq!(code, 0, "the child's exit code (41-44: the check that failed)");
    // The parent's flag was never set: its sleep is still queued and takes exactly one wake.
    // SAFETY: the test's own key.
    wait_until(
        HANG,
        "the parent's sleeper is woken",
        || unsafe { park::unpark_one(key, |_| UnparkToken(9)) }.unparked == 1,
    );
    assert_eq!(sleeper.join().unwrap(), ParkResult::Unparked(UnparkToken(9)));
}
