//! Thread lifecycle (DESIGN invariant 6): sleeping and locking work from a thread-local
//! destructor and from a thread that std did not spawn (raw `pthread_create`).
//! Forking is in `tests/fork.rs`, a binary of its own.
#![cfg_attr(not(unix), allow(unused_imports))] // Arc and wait_until serve the raw-pthread tests
mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_until, watchdog, HANG};
use wchan::{wakeup, Deadline, Error, Mutex, Sleep, SpinLock};

/// The work done at the edge of a thread's life: a timed lock of a contended-free mutex, a
/// deadline sleep that times out, and a sleep that another thread wakes (via `handshake`).
/// Returns a bit per step that passed.
fn edge_work(m: &Mutex<u32>, handshake: &SpinLock<bool>) -> u32 {
    let mut passed = 0;
    {
        let mut g = m.lock();
        *g += 1;
        passed |= 1;
    }
    if m.try_lock_for(Duration::from_millis(50)).is_some() {
        passed |= 2;
    }
    let chan = 0u8;
    let start = Instant::now();
    let r = Sleep::on(&chan).until(Deadline::after(Duration::from_millis(20))).wait();
    if r == Err(Error::TimedOut) && start.elapsed() >= Duration::from_millis(20) {
        passed |= 4;
    }
    let mut g = handshake.lock();
    *g = true;
    let r = Sleep::on(handshake).until(Deadline::after(HANG)).unlocking(g).wait();
    if r == Ok(()) {
        passed |= 8;
    }
    passed
}

const ALL_STEPS: u32 = 15;

/// Wakes the sleeper of `edge_work`'s last step once it has announced itself.
fn wake_edge_sleeper(handshake: &SpinLock<bool>) {
    loop {
        let mut g = handshake.lock();
        if *g {
            *g = false;
            assert_eq!(wakeup(handshake, 1), Ok(1));
            return;
        }
        drop(g);
        std::thread::yield_now();
    }
}

static TLS_MUTEX: Mutex<u32> = Mutex::new(0);
static TLS_HANDSHAKE: SpinLock<bool> = SpinLock::new(false);
static TLS_RESULT: AtomicU32 = AtomicU32::new(0);
static TLS_DROPPED: AtomicBool = AtomicBool::new(false);

struct SleepsOnDrop;

impl Drop for SleepsOnDrop {
    fn drop(&mut self) {
        TLS_RESULT.store(edge_work(&TLS_MUTEX, &TLS_HANDSHAKE), Ordering::SeqCst);
        TLS_DROPPED.store(true, Ordering::SeqCst);
    }
}

thread_local! {
    static ON_EXIT: SleepsOnDrop = const { SleepsOnDrop };
}

#[test]
fn sleep_and_lock_work_in_a_thread_local_destructor() {
    watchdog(HANG, || {
        let t = std::thread::spawn(|| {
            ON_EXIT.with(|_| {}); // register the destructor
                                  // Use wchan before exit too, so its own thread-locals are set up and torn down
                                  // around ours in whatever order the platform picks.
            assert_eq!(Sleep::on(&0u8).until(Deadline::after(Duration::from_millis(1))).wait(), Err(Error::TimedOut));
        });
        wake_edge_sleeper(&TLS_HANDSHAKE);
        t.join().unwrap();
        assert!(TLS_DROPPED.load(Ordering::SeqCst));
        assert_eq!(TLS_RESULT.load(Ordering::SeqCst), ALL_STEPS);
        assert_eq!(*TLS_MUTEX.lock(), 1);
    });
}

#[cfg(unix)] // raw pthreads
struct RawThreadArgs {
    m: Arc<Mutex<u32>>,
    handshake: Arc<SpinLock<bool>>,
    result: AtomicU32,
}

#[cfg(unix)]
extern "C" fn raw_thread_main(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the `RawThreadArgs` the test keeps alive until pthread_join returns.
    let args = unsafe { &*(arg as *const RawThreadArgs) };
    // A panic cannot unwind out of an `extern "C"` function (it aborts): record results instead.
    let passed = edge_work(&args.m, &args.handshake);
    args.result.store(passed, Ordering::SeqCst);
    std::ptr::null_mut()
}

#[cfg(unix)]
#[test]
fn sleep_and_lock_work_on_a_thread_not_spawned_by_std() {
    watchdog(HANG, || {
        let args = RawThreadArgs {
            m: Arc::new(Mutex::new(0)),
            handshake: Arc::new(SpinLock::new(false)),
            result: AtomicU32::new(0),
        };
        let mut tid: libc::pthread_t = 0;
        // SAFETY: `tid` is writable, the attributes are default (null), and `args` outlives the
        // thread: we join it below before `args` goes out of scope.
        let rc = unsafe {
            libc::pthread_create(&mut tid, std::ptr::null(), raw_thread_main, &args as *const RawThreadArgs as *mut _)
        };
        assert_eq!(rc, 0, "pthread_create");
        wake_edge_sleeper(&args.handshake);
        // SAFETY: `tid` is a joinable thread created above and joined once.
        let rc = unsafe { libc::pthread_join(tid, std::ptr::null_mut()) };
        assert_eq!(rc, 0, "pthread_join");
        assert_eq!(args.result.load(Ordering::SeqCst), ALL_STEPS);
        assert_eq!(*args.m.lock(), 1);
    });
}

/// A raw thread contends a mutex with std threads: it parks and is woken like any other.
#[cfg(unix)]
#[test]
fn raw_thread_parks_and_is_woken_on_a_contended_mutex() {
    struct Args {
        m: Mutex<u64>,
        go: AtomicBool,
    }
    extern "C" fn hammer(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the `Args` the test keeps alive until pthread_join returns.
        let args = unsafe { &*(arg as *const Args) };
        while !args.go.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        for _ in 0..20_000 {
            let mut g = args.m.lock();
            let v = *g;
            *g = v + 1;
        }
        std::ptr::null_mut()
    }
    watchdog(HANG, || {
        let args = Arc::new(Args { m: Mutex::new(0), go: AtomicBool::new(false) });
        let mut tids = [0 as libc::pthread_t; 2];
        for tid in &mut tids {
            // SAFETY: as above; `args` is kept alive by the Arc held here until after the joins.
            let rc = unsafe { libc::pthread_create(tid, std::ptr::null(), hammer, Arc::as_ptr(&args) as *mut _) };
            assert_eq!(rc, 0);
        }
        let std_thread = {
            let args = args.clone();
            std::thread::spawn(move || {
                wait_until(HANG, "go", || args.go.load(Ordering::SeqCst));
                for _ in 0..20_000 {
                    let mut g = args.m.lock();
                    let v = *g;
                    *g = v + 1;
                }
            })
        };
        args.go.store(true, Ordering::SeqCst);
        std_thread.join().unwrap();
        for tid in tids {
            // SAFETY: each joinable thread is joined once.
            assert_eq!(unsafe { libc::pthread_join(tid, std::ptr::null_mut()) }, 0);
        }
        assert_eq!(*args.m.lock(), 60_000);
    });
}
