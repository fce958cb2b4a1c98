//! How many CPUs the process may run on is read once, by the first thread that needs it:
//! `Condvar::notify_all` wakes that many waiters directly and moves the rest onto the mutex,
//! and a contended `Mutex` spins with pauses only if it is more than one. Linux keeps an
//! affinity mask per thread, so the first asker may be a thread pinned to one CPU. This test
//! makes exactly that thread ask first (its `lock` of a held mutex spins, which reads the
//! count), then measures a broadcast's herd: the waiters that woke, seen as a rise in their
//! voluntary context switches (`/proc`) while the requeued ones sleep on untouched. Each herd
//! member wakes one more early, so twice the herd wake; the herd must be the main thread's
//! CPU count, not 1.
//!
//! This file holds one test on purpose: nothing else in the process may read the count first.
//! Linux only (`/proc`, `sched_setaffinity`); on a machine with one allowed CPU the two
//! answers coincide, and the test asserts the herd of 1 that holds there.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{mpsc, Arc};
use wchan::{Condvar, Mutex};

/// The thread's affinity mask (tid 0: the caller).
fn mask(tid: libc::pid_t) -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; the kernel fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set), 0);
        set
    }
}

fn count(set: &libc::cpu_set_t) -> usize {
    #[allow(unused_unsafe)]
    // SAFETY: `set` is initialised.
    let n = unsafe { libc::CPU_COUNT(set) };
    n as usize
}

/// Pins the calling thread to the first CPU of its mask.
fn pin_to_first_cpu() {
    let own = mask(0);
    #[allow(unused_unsafe)]
    // SAFETY: indices below CPU_SETSIZE on initialised sets; the set passed is live.
    unsafe {
        let cpu = (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &own)).expect("some CPU");
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        assert_eq!(libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one), 0);
    }
    assert_eq!(count(&mask(0)), 1);
}

fn tid() -> libc::pid_t {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() }
}

/// The thread's scheduler state letter ('S' for asleep) and voluntary context switches.
fn task(tid: libc::pid_t) -> (char, u64) {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).expect("read stat");
    let state = stat[stat.rfind(')').expect("comm ends") + 2..].chars().next().expect("state");
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).expect("read status");
    let switches = status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .expect("voluntary_ctxt_switches")
        .trim()
        .parse()
        .expect("a number");
    (state, switches)
}

#[test]
fn a_first_asker_pinned_to_one_cpu_does_not_shrink_the_broadcast_herd() {
    common::watchdog(common::HANG, || {
        // SAFETY: no preconditions.
        let main_cpus = count(&mask(unsafe { libc::getpid() }));
        let expected = main_cpus.min(64);

        // The pinned thread asks first: it locks a held mutex, spins (reading the count),
        // then parks; the holder lets go once it sleeps.
        let m = Arc::new(Mutex::new(()));
        let held = m.lock();
        let (tx, rx) = mpsc::channel();
        let asker = {
            let m = m.clone();
            std::thread::spawn(move || {
                pin_to_first_cpu();
                tx.send(tid()).unwrap();
                drop(m.lock());
            })
        };
        let asker_tid = rx.recv().unwrap();
        common::wait_until(common::HANG, "the pinned asker parks", || task(asker_tid).0 == 'S');
        drop(held);
        asker.join().unwrap();

        // A broadcast to more waiters than the herd, with the mutex held throughout.
        let waiters = 2 * expected + 3;
        let state = Arc::new((Mutex::new(0usize), Condvar::new(), AtomicBool::new(false)));
        let tids: Arc<Vec<AtomicI32>> = Arc::new((0..waiters).map(|_| AtomicI32::new(0)).collect());
        let handles: Vec<_> = (0..waiters)
            .map(|i| {
                let (state, tids) = (state.clone(), tids.clone());
                std::thread::spawn(move || {
                    tids[i].store(tid(), Ordering::Release);
                    let (m, cv, go) = &*state;
                    let mut g = m.lock();
                    *g += 1;
                    while !go.load(Ordering::Acquire) {
                        cv.wait(&mut g);
                    }
                })
            })
            .collect();
        let (m2, cv, go) = &*state;
        let tid_of = |i: usize| tids[i].load(Ordering::Acquire);
        common::wait_until(common::HANG, "every waiter waits", || {
            *m2.lock() == waiters && (0..waiters).all(|i| tid_of(i) != 0 && task(tid_of(i)).0 == 'S')
        });
        let g = m2.lock();
        let before: Vec<u64> = (0..waiters).map(|i| task(tid_of(i)).1).collect();
        assert_eq!(cv.notify_all(), waiters, "every waiter is woken or requeued");
        // The herd was made runnable before `notify_all` returned. Each member of the herd,
        // once awake, wakes one more waiter from the mutex's queue early (`Condvar::wait_on`,
        // `RawMutex::wake_next_early`), then parks on the mutex; nothing else wakes anyone while
        // this thread holds the mutex. A woken thread may also sleep briefly on a bucket lock
        // on its way, so wait (a bounded while) until every waiter sleeps and the count of
        // woken ones has reached what the fixed code gives; a herd of 1 never gets there.
        let woke = || (0..waiters).filter(|&i| task(tid_of(i)).1 > before[i]).count();
        let settling = std::time::Instant::now();
        while !((0..waiters).all(|i| task(tid_of(i)).0 == 'S') && woke() >= 2 * expected)
            && settling.elapsed() < std::time::Duration::from_secs(5)
        {
            std::thread::yield_now();
        }
        let woke = woke();
        if expected == 1 {
            eprintln!("note: this process may use one CPU only; the herd of 1 is all that can be checked here");
        }
        assert_eq!(
            woke,
            2 * expected,
            "{woke} of {waiters} waiters woke: the main thread may run on {main_cpus} CPUs, so the herd \
             must be {expected}, each waking one more early (a pinned first asker must not make it 1)"
        );
        go.store(true, Ordering::Release);
        drop(g);
        cv.notify_all();
        for h in handles {
            h.join().unwrap();
        }
    });
}
