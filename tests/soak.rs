//! Soak: a bounded mixed workload that checks wchan's invariants while it runs.
//!
//! Eight workers pick operations at random on 16 channels, 8 mutexes and 4 condvars: sleeps
//! (no deadline, monotonic or realtime deadlines, passed deadlines, abort flags, spinlock
//! hand-off), wakeups of 1, 2, 3 or all, requeues between channels, abort flags set on other
//! workers, locks (plain, timed on both clocks, fair unlocks) and condvar producer/consumer
//! traffic; a signaller sends SIGUSR1 to random workers with `pthread_kill`, whose handler
//! calls `wchan::interrupt()`. The monitor (the test thread) checks as it runs:
//!
//! - mutual exclusion: each mutex guards two plain counters that must stay equal, plus an
//!   "inside" count that must be 0 on entry;
//! - no sleep ends early: a `TimedOut` sleep finds its deadline passed on its own clock;
//! - no thread is stuck: no worker stays in a deadline sleep more than `OVERSHOOT_BOUND`
//!   past its deadline, and the operation count keeps growing;
//!
//! and at the end, after waking every remaining sleeper:
//!
//! - exact wake accounting: sleeps that returned `Ok` == the sum of `wakeup`'s `Ok(k)` plus
//!   the threads `unpark_requeue` woke, and no sleeper is left;
//! - condvar items: produced == consumed + left in the queues.
//!
//! The monitor also wakes every sleeper of one channel per 20 ms tick (counted like any wakeup),
//! so the run stays live even when every worker sleeps without a deadline at once.
//!
//! It prints its figures. Duration: `WCHAN_SOAK_SECS` (default 20); the bound on overshoot
//! past a deadline: `WCHAN_SOAK_OVERSHOOT_MS` (default 2000, generous for a shared 2-core
//! machine); mean gap between signals: `WCHAN_SOAK_SIGNAL_GAP_US` (default 1000); seed:
//! `WCHAN_SOAK_SEED` (printed). `soak_long` (ignored) runs 5 minutes:
//! `cargo test --release --test soak -- --ignored --nocapture`.
//!
//! SAFETY (every `unsafe` call into `wchan::park` here): the key is an address this file owns
//! (a local, a leaked box or a static of its own) and every park and unpark on it follows the
//! protocol of the primitive or test around it.
#![cfg(unix)] // the workload includes real signals (SIGUSR1, pthread_kill)
mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use wchan::park::{self, ParkOptions, ParkResult, RequeueOp, DEFAULT_UNPARK_TOKEN};
use wchan::{wakeup, Clock, Condvar, Deadline, Error, Mutex, MutexGuard, Sleep, SpinLock};

const WORKERS: usize = 8;
const CHANS: usize = 16;
const MUTEXES: usize = 8;
const CONDVARS: usize = 4;

static CHAN: [u64; CHANS] = [0; CHANS];
static CHAN_LOCKS: [SpinLock<()>; 4] = [const { SpinLock::new(()) }; 4];

/// Two counters that must stay equal under the lock; `inside` counts holders (must be <= 1).
struct Guarded {
    a: u64,
    b: u64,
}

#[derive(Default)]
struct Counters {
    ops: AtomicU64,
    sleeps: AtomicU64,
    sleeps_ok: AtomicU64,
    timeouts: AtomicU64,
    interrupted: AtomicU64,
    early_timeouts: AtomicU64,
    wakeup_calls: AtomicU64,
    woken_by_wakeup: AtomicU64,
    requeues: AtomicU64,
    woken_by_requeue: AtomicU64,
    moved_by_requeue: AtomicU64,
    aborts_set: AtomicU64,
    locks: AtomicU64,
    timed_lock_timeouts: AtomicU64,
    exclusion_violations: AtomicU64,
    produced: AtomicU64,
    consumed: AtomicU64,
    cv_timeouts: AtomicU64,
    max_overshoot_ns: AtomicU64,
    sum_overshoot_ns: AtomicU64,
}

struct Shared {
    c: Counters,
    mutexes: Vec<(Mutex<Guarded>, AtomicU32)>,
    condvars: Vec<(Mutex<u64>, Condvar)>,
    aborts: Vec<AtomicBool>,
    /// Per worker: monotonic ns at which its current deadline sleep should have ended, or 0.
    sleeping_until: Vec<AtomicU64>,
    stop: AtomicBool,
}

static SIGNALS_HANDLED: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_sigusr1(_: libc::c_int) {
    SIGNALS_HANDLED.fetch_add(1, Ordering::Relaxed);
    wchan::interrupt();
}

fn install_handler() {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler only
    // does an atomic add and calls `wchan::interrupt`, which is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigusr1 as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn mono_ns() -> u64 {
    let t = Clock::Monotonic.now();
    t.sec as u64 * 1_000_000_000 + t.nsec as u64
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One random sleep on a random channel.
fn op_sleep(s: &Shared, me: usize, rng: &mut Rng) {
    let c = &CHAN[rng.below(CHANS as u64) as usize];
    let deadline = match rng.below(8) {
        0 | 1 => None,
        2..=4 => Some(Deadline::after(Duration::from_micros(rng.below(20_000)))),
        5 | 6 => Some((SystemTime::now() + Duration::from_micros(rng.below(20_000))).into()),
        _ => Some(
            Deadline::new(Clock::Realtime, Clock::Realtime.now().saturating_sub(Duration::from_millis(1))).unwrap(),
        ),
    };
    if let Some(d) = deadline {
        s.sleeping_until[me].store(mono_ns() + d.remaining().as_nanos() as u64, Ordering::Relaxed);
    }
    let abort = rng.below(2) == 0;
    let guard = (rng.below(2) == 0).then(|| CHAN_LOCKS[rng.below(4) as usize].lock());
    // Half the sleeps are channel sleeps, half park-API parks on the same address: two key
    // spaces that never share a queue; only the parks can be moved by a requeue.
    let r = if rng.below(2) == 0 {
        let mut sleep = Sleep::on(c);
        if let Some(d) = deadline {
            sleep = sleep.until(d);
        }
        if abort {
            sleep = sleep.abort_if(&s.aborts[me]);
        }
        if let Some(g) = guard {
            sleep = sleep.unlocking(g);
        }
        sleep.wait()
    } else {
        let mut options = ParkOptions::new().deadline(deadline);
        if abort {
            options = options.abort_if(&s.aborts[me]);
        }
        let key = c as *const u64 as usize;
        match unsafe { park::park(key, options, || true, move || drop(guard), |_, _| {}) } {
            ParkResult::Unparked(_) => Ok(()),
            ParkResult::TimedOut => Err(Error::TimedOut),
            ParkResult::Interrupted => Err(Error::Interrupted),
            ParkResult::Invalid => unreachable!("validate always agrees"),
        }
    };
    s.sleeping_until[me].store(0, Ordering::Relaxed);
    s.c.sleeps.fetch_add(1, Ordering::Relaxed);
    match r {
        Ok(()) => drop(s.c.sleeps_ok.fetch_add(1, Ordering::Relaxed)),
        Err(Error::TimedOut) => {
            let d = deadline.expect("only a sleep with a deadline times out");
            let now = d.clock().now();
            if now < d.at() {
                s.c.early_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            let over = now.saturating_duration_since(d.at()).as_nanos() as u64;
            s.c.max_overshoot_ns.fetch_max(over, Ordering::Relaxed);
            s.c.sum_overshoot_ns.fetch_add(over, Ordering::Relaxed);
            s.c.timeouts.fetch_add(1, Ordering::Relaxed);
        }
        Err(Error::Interrupted) => drop(s.c.interrupted.fetch_add(1, Ordering::Relaxed)),
        Err(e) => panic!("sleep failed with {e:?}"),
    }
    if abort {
        s.aborts[me].store(false, Ordering::Relaxed);
    }
}

fn op_wakeup(s: &Shared, rng: &mut Rng) {
    let c = &CHAN[rng.below(CHANS as u64) as usize];
    let n = [0, 1, 1, 2, 3, usize::MAX][rng.below(6) as usize];
    s.c.wakeup_calls.fetch_add(1, Ordering::Relaxed);
    if rng.below(2) == 0 {
        let k = unsafe { park::unpark_n(c as *const u64 as usize, n.max(1), DEFAULT_UNPARK_TOKEN) };
        s.c.woken_by_wakeup.fetch_add(k as u64, Ordering::Relaxed);
        return;
    }
    match wakeup(c, n) {
        Ok(k) => drop(s.c.woken_by_wakeup.fetch_add(k as u64, Ordering::Relaxed)),
        Err(Error::NoWaiters) => {}
        Err(e) => panic!("wakeup failed with {e:?}"),
    }
}

/// Wakes every sleeper of channel `c` in both key spaces; returns how many.
fn wake_everyone(c: &u64) -> u64 {
    let parked = unsafe { park::unpark_all(c as *const u64 as usize, DEFAULT_UNPARK_TOKEN) };
    (parked + wakeup(c, 0).unwrap_or(0)) as u64
}

fn op_requeue(s: &Shared, rng: &mut Rng) {
    let from = &CHAN[rng.below(CHANS as u64) as usize] as *const u64 as usize;
    let to = &CHAN[rng.below(CHANS as u64) as usize] as *const u64 as usize;
    let op = [RequeueOp::UnparkOne, RequeueOp::UnparkOneRequeueRest, RequeueOp::RequeueAll, RequeueOp::Abort]
        [rng.below(4) as usize];
    let r = unsafe { park::unpark_requeue(from, to, || op, |_, _| DEFAULT_UNPARK_TOKEN) };
    s.c.requeues.fetch_add(1, Ordering::Relaxed);
    s.c.woken_by_requeue.fetch_add(r.unparked as u64, Ordering::Relaxed);
    s.c.moved_by_requeue.fetch_add(r.requeued as u64, Ordering::Relaxed);
}

fn critical_section(s: &Shared, mut g: MutexGuard<'_, Guarded>, inside: &AtomicU32, rng: &mut Rng) {
    if inside.fetch_add(1, Ordering::Relaxed) != 0 || g.a != g.b {
        s.c.exclusion_violations.fetch_add(1, Ordering::Relaxed);
    }
    g.a += 1;
    if rng.below(32) == 0 {
        // A long hold now and then, so timed lockers time out and waiters park for > 1 ms
        // (the fair hand-off path).
        std::thread::sleep(Duration::from_micros(1_500));
    } else {
        for _ in 0..20 {
            std::hint::spin_loop();
        }
    }
    g.b += 1;
    inside.fetch_sub(1, Ordering::Relaxed);
    s.c.locks.fetch_add(1, Ordering::Relaxed);
    if rng.below(8) == 0 {
        MutexGuard::unlock_fair(g);
    }
}

fn op_lock(s: &Shared, rng: &mut Rng) {
    let (m, inside) = &s.mutexes[rng.below(MUTEXES as u64) as usize];
    let g = match rng.below(4) {
        0 | 1 => Some(m.lock()),
        2 => m.try_lock_for(Duration::from_micros(rng.below(2_000))),
        _ => m.try_lock_until((SystemTime::now() + Duration::from_micros(rng.below(2_000))).into()),
    };
    match g {
        Some(g) => critical_section(s, g, inside, rng),
        None => drop(s.c.timed_lock_timeouts.fetch_add(1, Ordering::Relaxed)),
    }
}

fn op_condvar(s: &Shared, rng: &mut Rng) {
    let (m, cv) = &s.condvars[rng.below(CONDVARS as u64) as usize];
    let mut items = m.lock();
    if rng.below(2) == 0 {
        *items += 1;
        s.c.produced.fetch_add(1, Ordering::Relaxed);
        if rng.below(4) == 0 {
            cv.notify_all();
        } else {
            cv.notify_one();
        }
        return;
    }
    let r = cv.wait_while_for(&mut items, |n| *n == 0, Duration::from_micros(rng.below(10_000)));
    if r.timed_out() {
        s.c.cv_timeouts.fetch_add(1, Ordering::Relaxed);
    } else {
        assert!(*items > 0, "wait_while returned with the condition still true");
        *items -= 1;
        s.c.consumed.fetch_add(1, Ordering::Relaxed);
    }
}

fn worker(s: &Shared, me: usize, seed: u64) {
    let mut rng = Rng(seed | 1);
    while !s.stop.load(Ordering::Relaxed) {
        match rng.below(100) {
            0..=29 => op_sleep(s, me, &mut rng),
            30..=47 => op_wakeup(s, &mut rng),
            48..=52 => op_requeue(s, &mut rng),
            53..=57 => {
                s.aborts[rng.below(WORKERS as u64) as usize].store(true, Ordering::Relaxed);
                s.c.aborts_set.fetch_add(1, Ordering::Relaxed);
            }
            58..=84 => op_lock(s, &mut rng),
            _ => op_condvar(s, &mut rng),
        }
        s.c.ops.fetch_add(1, Ordering::Relaxed);
    }
}

/// The soaks share the static channels and the signal handler: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn soak(duration: Duration) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let bound = Duration::from_millis(env_u64("WCHAN_SOAK_OVERSHOOT_MS", 2000));
    let seed =
        env_u64("WCHAN_SOAK_SEED", SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64);
    println!("soak: {WORKERS} workers, {duration:?}, seed {seed} (WCHAN_SOAK_SEED), overshoot bound {bound:?}");
    install_handler();
    let s = Arc::new(Shared {
        c: Counters::default(),
        mutexes: (0..MUTEXES).map(|_| (Mutex::new(Guarded { a: 0, b: 0 }), AtomicU32::new(0))).collect(),
        condvars: (0..CONDVARS).map(|_| (Mutex::new(0), Condvar::new())).collect(),
        aborts: (0..WORKERS).map(|_| AtomicBool::new(false)).collect(),
        sleeping_until: (0..WORKERS).map(|_| AtomicU64::new(0)).collect(),
        stop: AtomicBool::new(false),
    });
    let tids: Arc<Vec<AtomicUsize>> = Arc::new((0..WORKERS).map(|_| AtomicUsize::new(0)).collect());
    let ready = Arc::new(Barrier::new(WORKERS + 1));
    let workers: Vec<_> = (0..WORKERS)
        .map(|me| {
            let (s, tids, ready) = (s.clone(), tids.clone(), ready.clone());
            std::thread::spawn(move || {
                // SAFETY: pthread_self has no preconditions.
                tids[me].store(unsafe { libc::pthread_self() } as usize, Ordering::Relaxed);
                ready.wait();
                worker(&s, me, seed.wrapping_add(me as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            })
        })
        .collect();
    ready.wait();
    let stop_signals = Arc::new(AtomicBool::new(false));
    let signal_gap_us = env_u64("WCHAN_SOAK_SIGNAL_GAP_US", 1_000).max(2);
    let signaller = {
        let (stop_signals, tids) = (stop_signals.clone(), tids.clone());
        std::thread::spawn(move || {
            let mut rng = Rng(seed ^ 0xABCD | 1);
            let mut sent = 0u64;
            while !stop_signals.load(Ordering::Relaxed) {
                let tid = tids[rng.below(WORKERS as u64) as usize].load(Ordering::Relaxed);
                // SAFETY: every worker thread is alive until after the signaller is joined
                // (workers stop only after `stop_signals` and this join).
                assert_eq!(unsafe { libc::pthread_kill(tid as libc::pthread_t, libc::SIGUSR1) }, 0);
                sent += 1;
                std::thread::sleep(Duration::from_micros(signal_gap_us / 2 + rng.below(signal_gap_us)));
            }
            sent
        })
    };

    // Monitor.
    let start = Instant::now();
    let (mut last_ops, mut last_progress) = (0, Instant::now());
    let mut tick = 0usize;
    while start.elapsed() < duration {
        std::thread::sleep(Duration::from_millis(20));
        // Waker of last resort: every worker may be asleep without a deadline at once, and a
        // signal does not always end such a sleep (under ThreadSanitizer, which defers
        // handlers, it never does). Waking one channel per tick keeps the workload live.
        tick += 1;
        s.c.woken_by_wakeup.fetch_add(wake_everyone(&CHAN[tick % CHANS]), Ordering::Relaxed);
        let now = mono_ns();
        for (w, until) in s.sleeping_until.iter().enumerate() {
            let until = until.load(Ordering::Relaxed);
            assert!(
                until == 0 || now < until + bound.as_nanos() as u64,
                "worker {w} is still asleep {} ms past its deadline",
                (now - until) / 1_000_000
            );
        }
        assert_eq!(s.c.exclusion_violations.load(Ordering::Relaxed), 0, "mutual exclusion violated");
        assert_eq!(s.c.early_timeouts.load(Ordering::Relaxed), 0, "a sleep timed out before its deadline");
        let ops = s.c.ops.load(Ordering::Relaxed);
        if ops != last_ops {
            (last_ops, last_progress) = (ops, Instant::now());
        }
        assert!(last_progress.elapsed() < Duration::from_secs(10), "no operation completed for 10 s");
    }

    // Wind down: signals first (their targets must be alive), then the workers, waking any
    // that sleep without a deadline.
    stop_signals.store(true, Ordering::Relaxed);
    let signals_sent = signaller.join().unwrap();
    s.stop.store(true, Ordering::Relaxed);
    let wind_down = Instant::now();
    while !workers.iter().all(|w| w.is_finished()) {
        assert!(wind_down.elapsed() < Duration::from_secs(30), "workers did not finish after stop");
        for c in &CHAN {
            s.c.woken_by_wakeup.fetch_add(wake_everyone(c), Ordering::Relaxed);
        }
        std::thread::yield_now();
    }
    for w in workers {
        w.join().unwrap();
    }
    for c in &CHAN {
        assert_eq!(wake_everyone(c), 0, "a sleeper was left behind");
    }

    let c = &s.c;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let left: u64 = s.condvars.iter().map(|(m, _)| *m.lock()).sum();
    let timeouts = get(&c.timeouts).max(1);
    println!(
        "soak figures: ops {} | sleeps {} (ok {}, timed out {}, interrupted {}) | wakeup calls {}, woken {} \
         | requeues {} (woke {}, moved {}) | aborts set {} | signals sent {} handled {} | locks {} (timed-lock \
         timeouts {}) | condvar produced {} consumed {} left {} wait timeouts {} | overshoot past deadline: max {:.3} ms, \
         mean {:.3} ms",
        get(&c.ops),
        get(&c.sleeps),
        get(&c.sleeps_ok),
        get(&c.timeouts),
        get(&c.interrupted),
        get(&c.wakeup_calls),
        get(&c.woken_by_wakeup),
        get(&c.requeues),
        get(&c.woken_by_requeue),
        get(&c.moved_by_requeue),
        get(&c.aborts_set),
        signals_sent,
        SIGNALS_HANDLED.load(Ordering::Relaxed),
        get(&c.locks),
        get(&c.timed_lock_timeouts),
        get(&c.produced),
        get(&c.consumed),
        left,
        get(&c.cv_timeouts),
        get(&c.max_overshoot_ns) as f64 / 1e6,
        get(&c.sum_overshoot_ns) as f64 / timeouts as f64 / 1e6,
    );
    assert_eq!(
        get(&c.sleeps_ok),
        get(&c.woken_by_wakeup) + get(&c.woken_by_requeue),
        "exact wake accounting: every Ok sleep was counted by exactly one waker"
    );
    assert_eq!(get(&c.sleeps), get(&c.sleeps_ok) + get(&c.timeouts) + get(&c.interrupted));
    assert_eq!(get(&c.produced), get(&c.consumed) + left, "condvar items");
    assert_eq!(get(&c.exclusion_violations), 0);
    assert_eq!(get(&c.early_timeouts), 0);
    let max_over = Duration::from_nanos(get(&c.max_overshoot_ns));
    assert!(max_over < bound, "max overshoot {max_over:?} exceeds the bound {bound:?}");
    for (m, _) in &s.mutexes {
        let g = m.lock();
        assert_eq!(g.a, g.b);
    }
    let total_locks: u64 = s.mutexes.iter().map(|(m, _)| m.lock().a).sum();
    assert_eq!(total_locks, get(&c.locks));
    // Every kind of event happened, so the figures mean something (checked on runs long enough
    // to expect each; a sanitizer run may be too slow).
    let require = if get(&c.ops) >= 10_000 { 1 } else { 0 };
    for (what, n) in [
        ("Ok sleeps", get(&c.sleeps_ok)),
        ("timeouts", get(&c.timeouts)),
        ("interrupted sleeps", get(&c.interrupted)),
        ("requeue moves", get(&c.moved_by_requeue)),
        ("condvar consumption", get(&c.consumed)),
    ] {
        assert!(n >= require, "the soak produced no {what}");
    }
}

#[test]
fn soak_mixed_workload_keeps_every_invariant() {
    let secs = env_u64("WCHAN_SOAK_SECS", 20);
    common::watchdog(Duration::from_secs(secs + 90), move || soak(Duration::from_secs(secs)));
}

#[test]
#[ignore = "5 minutes; run with --ignored"]
fn soak_long() {
    let secs = env_u64("WCHAN_SOAK_LONG_SECS", 300);
    common::watchdog(Duration::from_secs(secs + 120), move || soak(Duration::from_secs(secs)));
}
