//! Linux affinity helpers and the broadcast-herd measurement shared by `cpus_pinned_asker.rs`
//! and `cpus_refresh.rs`. How many CPUs wchan believes the process may run on is visible in
//! one place from outside: `Condvar::notify_all` wakes that many waiters directly and moves
//! the rest onto the mutex. A woken waiter shows as a rise in its voluntary context switches
//! (`/proc`) while the moved ones sleep on untouched. Each herd member, once it runs, wakes
//! one more early, so twice the herd wake.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{wait_until, HANG};
use wchan::{Condvar, Mutex};

/// The thread's affinity mask (tid 0: the caller; the process id: the main thread).
pub fn mask(tid: libc::pid_t) -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; the kernel fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set), 0);
        set
    }
}

/// Sets thread `tid`'s affinity mask.
pub fn set_mask(tid: libc::pid_t, set: &libc::cpu_set_t) {
    // SAFETY: `set` is a live, initialised cpu_set_t of the size passed.
    assert_eq!(unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), set) }, 0);
}

pub fn count(set: &libc::cpu_set_t) -> usize {
    #[allow(unused_unsafe)]
    // SAFETY: `set` is initialised.
    let n = unsafe { libc::CPU_COUNT(set) };
    n as usize
}

/// The main thread's id (the process id).
pub fn main_tid() -> libc::pid_t {
    // SAFETY: no preconditions.
    unsafe { libc::getpid() }
}

pub fn tid() -> libc::pid_t {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() }
}

/// The set holding only the first CPU of the calling thread's mask.
pub fn first_cpu_only() -> libc::cpu_set_t {
    let own = mask(0);
    #[allow(unused_unsafe)]
    // SAFETY: indices below CPU_SETSIZE on initialised sets.
    unsafe {
        let cpu = (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &own)).expect("some CPU");
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        one
    }
}

/// The thread's scheduler state letter ('S' for asleep) and voluntary context switches.
pub fn task(tid: libc::pid_t) -> (char, u64) {
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

/// Broadcasts from the calling thread to `waiters` waiters (more than twice the herd
/// expected) with the mutex held throughout, and returns how many of them woke: twice the
/// herd. Waits (at most 5 s) until every waiter sleeps again and at least `2 * expected`
/// woke, so a herd smaller than expected shows as a smaller count, not as a hang.
pub fn woken_by_a_broadcast(waiters: usize, expected: usize) -> usize {
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
    let (m, cv, go) = &*state;
    let tid_of = |i: usize| tids[i].load(Ordering::Acquire);
    wait_until(HANG, "every waiter waits", || {
        *m.lock() == waiters && (0..waiters).all(|i| tid_of(i) != 0 && task(tid_of(i)).0 == 'S')
    });
    let g = m.lock();
    let before: Vec<u64> = (0..waiters).map(|i| task(tid_of(i)).1).collect();
    assert_eq!(cv.notify_all(), waiters, "every waiter is woken or requeued");
    // The herd was made runnable before `notify_all` returned. Each member of the herd, once
    // awake, wakes one more waiter from the mutex's queue early (`Condvar::wait_on`,
    // `RawMutex::wake_next_early`), then parks on the mutex; nothing else wakes anyone while
    // this thread holds the mutex. A woken thread may also sleep briefly on a bucket lock on
    // its way, so wait (a bounded while) until every waiter sleeps and the count of woken
    // ones has reached what the expected herd gives.
    let woke = || (0..waiters).filter(|&i| task(tid_of(i)).1 > before[i]).count();
    let settling = Instant::now();
    while !((0..waiters).all(|i| task(tid_of(i)).0 == 'S') && woke() >= 2 * expected)
        && settling.elapsed() < Duration::from_secs(5)
    {
        std::thread::yield_now();
    }
    let woke = woke();
    go.store(true, Ordering::Release);
    drop(g);
    cv.notify_all();
    for h in handles {
        h.join().unwrap();
    }
    woke
}
