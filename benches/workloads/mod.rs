//! The workloads, written once, that `examples/compare.rs` and the criterion benches in
//! `benches/` both run (each includes this file with `#[path]`).
//!
//! Every workload is generic over an implementation trait ([`Lock`], [`Monitor`], [`Chan`])
//! that wchan, std, parking_lot and parking_lot_core each implement once. A workload
//! `run(n)` performs about `n` operations and returns `(time, operations done)`; threads start
//! on a [`Barrier`] and the clock runs from its release until the last one is done, so thread
//! start-up is not counted.
//!
//! SAFETY (every `unsafe` call into `wchan::park` and `parking_lot_core` here): the key is an
//! address this file owns (a field of a value it created) and every park and unpark on it
//! follows the protocol of the workload around it; no callback calls back into the library
//! or panics.

#![allow(dead_code)] // each includer runs a subset

use std::collections::VecDeque;
use std::hint::black_box;
use std::ops::DerefMut;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use wchan::park::{ParkOptions, DEFAULT_UNPARK_TOKEN};
use wchan::{wakeup, Sleep, SpinLock};

// ---------------------------------------------------------------------------------------
// Mutex workloads

/// The three mutexes behind one interface.
pub trait Lock: Default + Send + Sync + 'static {
    const NAME: &'static str;
    /// Locks, runs the short critical section, unlocks.
    fn bump(&self);
}

/// The short critical section: two dependent multiply/xor steps on the protected value.
pub fn critical(v: &mut u64) {
    *v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *v ^= *v >> 29;
}

/// Steps of [`critical`] in the long critical section of `condvar_notify_all_8_long`: about
/// a microsecond (`compare` prints the measured time of one).
pub const LONG_STEPS: u32 = 400;

/// The long critical section: [`LONG_STEPS`] dependent steps of [`critical`].
pub fn critical_long(v: &mut u64) {
    for _ in 0..LONG_STEPS {
        critical(black_box(v));
    }
}

impl Lock for wchan::Mutex<u64> {
    const NAME: &'static str = "wchan";
    fn bump(&self) {
        critical(&mut self.lock());
    }
}

impl Lock for std::sync::Mutex<u64> {
    const NAME: &'static str = "std";
    fn bump(&self) {
        critical(&mut self.lock().unwrap());
    }
}

impl Lock for parking_lot::Mutex<u64> {
    const NAME: &'static str = "parking_lot";
    fn bump(&self) {
        critical(&mut self.lock());
    }
}

/// `n` lock/unlock pairs on one thread.
pub fn uncontended<L: Lock>(n: u64) -> (Duration, u64) {
    let lock = L::default();
    let start = Instant::now();
    for _ in 0..n {
        black_box(&lock).bump();
    }
    (start.elapsed(), n)
}

/// `threads` threads each take one of `locks` locks (chosen at random when there are more
/// than one) about `n / threads` times; the time for all acquisitions together.
pub fn contended<L: Lock>(threads: usize, locks: usize, n: u64) -> (Duration, u64) {
    let per_thread = n.div_ceil(threads as u64).max(1);
    let locks: Arc<Vec<L>> = Arc::new((0..locks).map(|_| L::default()).collect());
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (locks, barrier) = (locks.clone(), barrier.clone());
            thread::spawn(move || {
                let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                barrier.wait();
                let start = Instant::now();
                for _ in 0..per_thread {
                    let i = if locks.len() == 1 { 0 } else { rng.below(locks.len()) };
                    locks[i].bump();
                }
                (start, Instant::now())
            })
        })
        .collect();
    barrier.wait();
    (span(handles), per_thread * threads as u64)
}

/// From the first thread's start to the last one's end. Each thread reads the clock itself
/// after the barrier: a main thread that is descheduled once it has released the barrier
/// (on a loaded machine) would otherwise start the clock late and report too little time.
fn span(handles: Vec<thread::JoinHandle<(Instant, Instant)>>) -> Duration {
    let times: Vec<(Instant, Instant)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let start = times.iter().map(|t| t.0).min().expect("at least one thread");
    let end = times.iter().map(|t| t.1).max().expect("at least one thread");
    end - start
}

/// A small per-thread random number generator (xorshift64).
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------
// Condvar workloads

/// A mutex around an `S` and two condition variables of one library: every condvar workload
/// is written once over this.
pub trait Monitor<S: Send>: Send + Sync + 'static {
    type Guard<'a>: DerefMut<Target = S>
    where
        Self: 'a;
    fn new(state: S) -> Self;
    fn lock(&self) -> Self::Guard<'_>;
    /// Waits on condvar `cv` (0 or 1) while `condition` holds.
    fn wait_while<'a>(
        &'a self,
        cv: usize,
        guard: Self::Guard<'a>,
        condition: impl FnMut(&mut S) -> bool,
    ) -> Self::Guard<'a>;
    fn notify_one(&self, cv: usize) -> bool;
    fn notify_all(&self, cv: usize);
}

pub struct WchanM<S>(wchan::Mutex<S>, [wchan::Condvar; 2]);
pub struct StdM<S>(std::sync::Mutex<S>, [std::sync::Condvar; 2]);
pub struct PlM<S>(parking_lot::Mutex<S>, [parking_lot::Condvar; 2]);

/// wchan's and parking_lot's monitors: the same API (`lock_api` guards, `&mut` waits).
macro_rules! lock_api_monitor {
    ($m:ident, $lib:ident) => {
        impl<S: Send + 'static> Monitor<S> for $m<S> {
            type Guard<'a> = $lib::MutexGuard<'a, S>;
            fn new(state: S) -> Self {
                $m($lib::Mutex::new(state), Default::default())
            }
            fn lock(&self) -> Self::Guard<'_> {
                self.0.lock()
            }
            fn wait_while<'a>(
                &'a self,
                cv: usize,
                mut guard: Self::Guard<'a>,
                condition: impl FnMut(&mut S) -> bool,
            ) -> Self::Guard<'a> {
                self.1[cv].wait_while(&mut guard, condition);
                guard
            }
            fn notify_one(&self, cv: usize) -> bool {
                self.1[cv].notify_one()
            }
            fn notify_all(&self, cv: usize) {
                self.1[cv].notify_all();
            }
        }
    };
}

lock_api_monitor!(WchanM, wchan);
lock_api_monitor!(PlM, parking_lot);

impl<S: Send + 'static> Monitor<S> for StdM<S> {
    type Guard<'a> = std::sync::MutexGuard<'a, S>;
    fn new(state: S) -> Self {
        StdM(std::sync::Mutex::new(state), Default::default())
    }
    fn lock(&self) -> Self::Guard<'_> {
        self.0.lock().unwrap()
    }
    fn wait_while<'a>(
        &'a self,
        cv: usize,
        guard: Self::Guard<'a>,
        condition: impl FnMut(&mut S) -> bool,
    ) -> Self::Guard<'a> {
        self.1[cv].wait_while(guard, condition).unwrap()
    }
    fn notify_one(&self, cv: usize) -> bool {
        self.1[cv].notify_one();
        true
    }
    fn notify_all(&self, cv: usize) {
        self.1[cv].notify_all();
    }
}

/// `n` `notify_one` calls with no thread waiting.
pub fn notify_empty<M: Monitor<()>>(n: u64) -> (Duration, u64) {
    let m = M::new(());
    let start = Instant::now();
    for _ in 0..n {
        black_box(black_box(&m).notify_one(0));
    }
    (start.elapsed(), n)
}

/// `n` `notify_all` calls with no thread waiting.
pub fn notify_all_empty<M: Monitor<()>>(n: u64) -> (Duration, u64) {
    let m = M::new(());
    let start = Instant::now();
    for _ in 0..n {
        black_box(&m).notify_all(0);
    }
    (start.elapsed(), n)
}

/// `n` round trips main -> partner -> main: each side sets the turn to the other under the
/// mutex, notifies the other's condvar and waits on its own until the turn is back.
pub fn pingpong<M: Monitor<u32>>(pin: Pin, n: u64) -> (Duration, u64) {
    exchange(
        n,
        pin,
        M::new(0),
        |m| {
            let mut turn = m.lock();
            *turn = 1;
            m.notify_one(1);
            drop(m.wait_while(0, turn, |t| *t != 0));
        },
        |m| {
            let mut turn = m.wait_while(1, m.lock(), |t| *t != 1);
            *turn = 0;
            m.notify_one(0);
        },
    )
}

/// The state of a broadcast round.
#[derive(Default)]
pub struct Broadcast {
    generation: u64,
    acked: usize,
    stop: bool,
    work: u64,
}

/// `n` rounds of: bump a generation under the mutex, `notify_all` to `waiters` threads, wait
/// (on the second condvar) until every one of them has re-acquired the mutex, run its
/// critical section (`long`: [`critical_long`], else none) and counted itself.
pub fn notify_all<M: Monitor<Broadcast>>(waiters: usize, long: bool, n: u64) -> (Duration, u64) {
    let m = Arc::new(M::new(Broadcast::default()));
    let handles: Vec<_> = (0..waiters)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                let mut s = m.lock();
                let mut seen = 0;
                loop {
                    s = m.wait_while(0, s, |s| s.generation == seen);
                    seen = s.generation;
                    if long {
                        critical_long(&mut s.work);
                    }
                    s.acked += 1;
                    if s.acked == waiters {
                        m.notify_one(1);
                    }
                    if s.stop {
                        return;
                    }
                }
            })
        })
        .collect();
    let round = |stop: bool| {
        let mut s = m.lock();
        s.generation += 1;
        s.acked = 0;
        s.stop = stop;
        m.notify_all(0);
        drop(m.wait_while(1, s, |s| s.acked < waiters));
    };
    // A first round, untimed, returns only once every waiter has started and waits again.
    round(false);
    let start = Instant::now();
    for _ in 0..n {
        round(false);
    }
    let took = start.elapsed();
    round(true);
    for h in handles {
        h.join().unwrap();
    }
    (took, n)
}

/// A bounded queue's state: the items, and whether the consumers may stop.
pub struct Queue {
    items: VecDeque<u64>,
}

/// The bounded queue's capacity.
pub const QUEUE_CAPACITY: usize = 64;

/// A bounded queue (capacity [`QUEUE_CAPACITY`]) on one mutex and two condvars (0: not empty,
/// 1: not full), `producers` threads pushing and `consumers` threads popping about `n` items
/// in all; each push and pop notifies one waiter of the other side. Time per item.
pub fn queue_mpmc<M: Monitor<Queue>>(producers: usize, consumers: usize, n: u64) -> (Duration, u64) {
    let per_producer = n.div_ceil(producers as u64).max(1);
    let total = per_producer * producers as u64;
    // Every consumer takes the same share; the first takes what does not divide evenly.
    let share = total / consumers as u64;
    let m = Arc::new(M::new(Queue { items: VecDeque::with_capacity(QUEUE_CAPACITY) }));
    let barrier = Arc::new(Barrier::new(producers + consumers + 1));
    let mut handles = Vec::new();
    for p in 0..producers {
        let (m, barrier) = (m.clone(), barrier.clone());
        handles.push(thread::spawn(move || {
            barrier.wait();
            let start = Instant::now();
            for i in 0..per_producer {
                let mut q = m.wait_while(1, m.lock(), |q| q.items.len() == QUEUE_CAPACITY);
                q.items.push_back(i ^ p as u64);
                drop(q);
                m.notify_one(0);
            }
            (start, Instant::now())
        }));
    }
    for c in 0..consumers {
        let (m, barrier) = (m.clone(), barrier.clone());
        let mine = if c == 0 { total - share * (consumers as u64 - 1) } else { share };
        handles.push(thread::spawn(move || {
            barrier.wait();
            let start = Instant::now();
            let mut sum = 0u64;
            for _ in 0..mine {
                let mut q = m.wait_while(0, m.lock(), |q| q.items.is_empty());
                sum = sum.wrapping_add(q.items.pop_front().unwrap());
                drop(q);
                m.notify_one(1);
            }
            black_box(sum);
            (start, Instant::now())
        }));
    }
    barrier.wait();
    (span(handles), total)
}

/// A job pool's state.
#[derive(Default)]
pub struct Pool {
    /// Jobs submitted and not yet taken (each a value to hash).
    jobs: VecDeque<u64>,
    /// Jobs finished in this batch.
    done: u64,
    stop: bool,
}

/// Jobs per batch in [`pool_jobs`].
pub const POOL_BATCH: u64 = 10_000;

/// `workers` threads sleep on condvar 0 waiting for jobs; main submits a batch of
/// [`POOL_BATCH`] tiny jobs one by one (lock, push, unlock, `notify_one`), then waits on
/// condvar 1 until all are done; batches repeat until about `n` jobs ran. Time per job.
pub fn pool_jobs<M: Monitor<Pool>>(workers: usize, n: u64) -> (Duration, u64) {
    let batches = n.div_ceil(POOL_BATCH).max(1);
    let m = Arc::new(M::new(Pool { jobs: VecDeque::with_capacity(POOL_BATCH as usize), ..Pool::default() }));
    let barrier = Arc::new(Barrier::new(workers + 1));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (m, barrier) = (m.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                let mut s = m.lock();
                loop {
                    s = m.wait_while(0, s, |s| s.jobs.is_empty() && !s.stop);
                    let Some(mut job) = s.jobs.pop_front() else { return };
                    drop(s);
                    critical(&mut job);
                    black_box(job);
                    s = m.lock();
                    s.done += 1;
                    if s.done == POOL_BATCH {
                        m.notify_one(1);
                    }
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for _ in 0..batches {
        for job in 0..POOL_BATCH {
            m.lock().jobs.push_back(job);
            m.notify_one(0);
        }
        let mut s = m.wait_while(1, m.lock(), |s| s.done < POOL_BATCH);
        s.done = 0;
    }
    let took = start.elapsed();
    m.lock().stop = true;
    m.notify_all(0);
    for h in handles {
        h.join().unwrap();
    }
    (took, batches * POOL_BATCH)
}

// ---------------------------------------------------------------------------------------
// Wait-channel workloads

/// `n` `wakeup(&id, 1)` calls on an id nobody sleeps on.
pub fn wakeup_empty_wchan(n: u64) -> (Duration, u64) {
    let id = 0u64;
    let start = Instant::now();
    for _ in 0..n {
        let _ = black_box(wakeup(black_box(&id), 1));
    }
    (start.elapsed(), n)
}

/// `n` `parking_lot_core::unpark_one` calls on a key nobody is parked on.
pub fn wakeup_empty_plc(n: u64) -> (Duration, u64) {
    let id = 0u64;
    let start = Instant::now();
    for _ in 0..n {
        let key = black_box(&id) as *const u64 as usize;
        // SAFETY: see the module docs.
        black_box(unsafe { parking_lot_core::unpark_one(key, |_| parking_lot_core::DEFAULT_UNPARK_TOKEN) });
    }
    (start.elapsed(), n)
}

/// Two threads passing a turn by sleeping on and waking one channel each.
pub trait Chan: Default + Send + Sync + 'static {
    const NAME: &'static str;
    /// Gives the turn to `to` and wakes it.
    fn give(&self, to: u32);
    /// Sleeps until the turn is `me`.
    fn take(&self, me: u32);
}

/// wchan's OpenBSD face: the turn under a `SpinLock`, its guard handed to `Sleep::unlocking`.
#[derive(Default)]
pub struct WchanSleep {
    turn: SpinLock<u32>,
    ids: [u64; 2],
}

impl Chan for WchanSleep {
    const NAME: &'static str = "wchan";
    fn give(&self, to: u32) {
        *self.turn.lock() = to;
        // After the unlock: a sleeper that saw the old turn was queued before it let go.
        let _ = wakeup(&self.ids[to as usize], 1);
    }
    fn take(&self, me: u32) {
        let mut turn = self.turn.lock();
        while *turn != me {
            Sleep::on(&self.ids[me as usize]).unlocking(turn).wait().unwrap();
            turn = self.turn.lock();
        }
    }
}

/// wchan's OpenBSD face without a lock: each side's turn is a flag that its sleeper passes to
/// `Sleep::abort_if`. The face checks the flag after queueing the sleeper, and a flag set
/// before a `wakeup` of the channel is never missed, so the flag needs no lock around it: the
/// face's counterpart of parking_lot_core's `validate`, the same shape as [`PlcPark`].
#[derive(Default)]
pub struct WchanFlag {
    mine: [AtomicBool; 2],
    ids: [u64; 2],
}

impl Chan for WchanFlag {
    const NAME: &'static str = "wchan_flag";
    fn give(&self, to: u32) {
        // Release: pairs with the Acquire load in `take`. Set before the wakeup, so a sleeper
        // either is queued when the wakeup looks or sees the flag after it queued.
        self.mine[to as usize].store(true, Ordering::Release);
        let _ = wakeup(&self.ids[to as usize], 1);
    }
    fn take(&self, me: u32) {
        let flag = &self.mine[me as usize];
        // Acquire: pairs with the Release store in `give`.
        while !flag.load(Ordering::Acquire) {
            // Ok (woken), or Interrupted (the flag was set before this thread blocked).
            let _ = Sleep::on(&self.ids[me as usize]).abort_if(flag).wait();
        }
        // Relaxed: the other side sets it again only after this thread's next `give`, which
        // follows this store.
        flag.store(false, Ordering::Relaxed);
    }
}

/// parking_lot_core with [`WchanSleep`]'s protocol: the turn under the same `SpinLock`, whose
/// guard the sleeper releases in `before_sleep`, which parking_lot_core runs once the thread
/// is queued and the bucket lock released: the order `Sleep::unlocking` keeps. The same work
/// as [`WchanSleep`] on both sides, so `sleep_wake_roundtrip_locked` compares the two
/// libraries' sleep and wake with the lock's cost on both.
#[derive(Default)]
pub struct PlcLocked {
    turn: SpinLock<u32>,
    ids: [u64; 2],
}

impl Chan for PlcLocked {
    const NAME: &'static str = "parking_lot_core_locked";
    fn give(&self, to: u32) {
        *self.turn.lock() = to;
        // After the unlock, as in `WchanSleep`.
        PlcLib::unpark_one(&self.ids[to as usize] as *const u64 as usize);
    }
    fn take(&self, me: u32) {
        let key = &self.ids[me as usize] as *const u64 as usize;
        let mut turn = self.turn.lock();
        while *turn != me {
            // Released in `before_sleep`, which always runs here (`validate` agrees); the
            // `take` after the park then finds nothing, and no path leaves the guard held.
            let held = std::cell::Cell::new(Some(turn));
            PlcLib::park_then(key, || drop(held.take()));
            drop(held.take());
            turn = self.turn.lock();
        }
    }
}

/// The turn in an atomic that `park`'s validate re-reads under the bucket lock: the protocol
/// of [`WchanPark`] and [`PlcPark`], which differ only in the library.
#[derive(Default)]
pub struct AtomicTurn<P> {
    turn: AtomicU32,
    ids: [u64; 2],
    lib: P,
}

/// One park/unpark library, for [`AtomicTurn`].
pub trait ParkLib: Default + Send + Sync + 'static {
    const NAME: &'static str;
    fn park(key: usize, validate: impl FnOnce() -> bool);
    fn unpark_one(key: usize);
}

impl PlcLib {
    /// Parks on `key` unconditionally, running `before_sleep` once the thread is queued.
    fn park_then(key: usize, before_sleep: impl FnOnce()) {
        // SAFETY: see the module docs.
        unsafe {
            parking_lot_core::park(key, || true, before_sleep, |_, _| {}, parking_lot_core::DEFAULT_PARK_TOKEN, None)
        };
    }
}

#[derive(Default)]
pub struct WchanParkLib;
#[derive(Default)]
pub struct PlcLib;

impl ParkLib for WchanParkLib {
    const NAME: &'static str = "wchan_park";
    fn park(key: usize, validate: impl FnOnce() -> bool) {
        // SAFETY: see the module docs.
        unsafe { wchan::park::park(key, ParkOptions::new(), validate, || {}, |_, _| {}) };
    }
    fn unpark_one(key: usize) {
        // SAFETY: see the module docs.
        unsafe { wchan::park::unpark_one(key, |_| DEFAULT_UNPARK_TOKEN) };
    }
}

impl ParkLib for PlcLib {
    const NAME: &'static str = "parking_lot_core";
    fn park(key: usize, validate: impl FnOnce() -> bool) {
        // SAFETY: see the module docs.
        unsafe { parking_lot_core::park(key, validate, || {}, |_, _| {}, parking_lot_core::DEFAULT_PARK_TOKEN, None) };
    }
    fn unpark_one(key: usize) {
        // SAFETY: see the module docs.
        unsafe { parking_lot_core::unpark_one(key, |_| parking_lot_core::DEFAULT_UNPARK_TOKEN) };
    }
}

pub type WchanPark = AtomicTurn<WchanParkLib>;
pub type PlcPark = AtomicTurn<PlcLib>;

impl<P: ParkLib> Chan for AtomicTurn<P> {
    const NAME: &'static str = P::NAME;
    fn give(&self, to: u32) {
        // Release: pairs with the Acquire load in `take`.
        self.turn.store(to, Ordering::Release);
        P::unpark_one(&self.ids[to as usize] as *const u64 as usize);
    }
    fn take(&self, me: u32) {
        let _ = &self.lib;
        let key = &self.ids[me as usize] as *const u64 as usize;
        // Acquire: pairs with the Release store in `give`.
        while self.turn.load(Ordering::Acquire) != me {
            P::park(key, || self.turn.load(Ordering::Relaxed) != me);
        }
    }
}

/// `n` round trips: main wakes the partner, which wakes main at once.
pub fn roundtrip<C: Chan>(pin: Pin, n: u64) -> (Duration, u64) {
    exchange(
        n,
        pin,
        C::default(),
        |c| {
            c.give(1);
            c.take(0);
        },
        |c| {
            c.take(1);
            c.give(0);
        },
    )
}

/// Where the two threads of a round-trip workload run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// Wherever the scheduler puts them.
    Free,
    /// Both on one CPU (the first the process may use): every wake is a switch on that CPU,
    /// never a wake of another, idle CPU. Measures the library's own path.
    SameCpu,
    /// On two different CPUs: every wake crosses to the other CPU (which is idle by then).
    TwoCpus,
}

/// `n` steps of `main` on one thread against `n` of `partner` on another, both on `shared`,
/// placed as `pin` says; the time of main's steps. Both run on threads spawned for the
/// purpose, and the calling thread is never pinned: wchan caches its CPU count per thread
/// (`src/cpus.rs`), and a caller pinned here (the process's main thread, in `compare`) would
/// count one CPU for its next 1,024 asks, into the cases that follow. The pinned pair still
/// counts the main thread's CPUs, as two threads pinned together in a real program would.
fn exchange<T: Send + Sync + 'static>(
    n: u64,
    pin: Pin,
    shared: T,
    main: impl Fn(&T) + Send + 'static,
    partner: impl Fn(&T) + Send + 'static,
) -> (Duration, u64) {
    let shared = Arc::new(shared);
    let barrier = Arc::new(Barrier::new(2));
    let cpus = affinity::allowed();
    let (main_cpu, partner_cpu) = match (pin, cpus.as_slice()) {
        (Pin::SameCpu, [a, ..]) => (Some(*a), Some(*a)),
        (Pin::TwoCpus, [a, b, ..]) => (Some(*a), Some(*b)),
        _ => (None, None),
    };
    let other = side(&shared, &barrier, partner_cpu, n, partner);
    let took = side(&shared, &barrier, main_cpu, n, main).join().unwrap();
    other.join().unwrap();
    (took, n)
}

/// One side of [`exchange`]: a thread that pins itself to `cpu` (if any), meets the other
/// side at `barrier`, takes `n` steps and returns their time.
fn side<T: Send + Sync + 'static>(
    shared: &Arc<T>,
    barrier: &Arc<Barrier>,
    cpu: Option<usize>,
    n: u64,
    step: impl Fn(&T) + Send + 'static,
) -> thread::JoinHandle<Duration> {
    let (shared, barrier) = (shared.clone(), barrier.clone());
    thread::spawn(move || {
        if let Some(cpu) = cpu {
            affinity::pin(cpu);
        }
        barrier.wait();
        let start = Instant::now();
        for _ in 0..n {
            step(&shared);
        }
        start.elapsed()
    })
}

/// Thread CPU affinity (Linux); elsewhere nothing is pinned and every [`Pin`] runs as `Free`.
mod affinity {
    #[cfg(target_os = "linux")]
    pub type Mask = libc::cpu_set_t;
    #[cfg(not(target_os = "linux"))]
    pub type Mask = ();

    /// The calling thread's mask.
    pub fn get() -> Mask {
        #[cfg(target_os = "linux")]
        // SAFETY: a zeroed cpu_set_t is valid; the size passed is its own.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
            set
        }
    }

    /// The CPUs the calling thread may run on, lowest first.
    pub fn allowed() -> Vec<usize> {
        #[cfg(target_os = "linux")]
        {
            let set = get();
            // SAFETY: CPU_ISSET reads a valid cpu_set_t within its size.
            (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect()
        }
        #[cfg(not(target_os = "linux"))]
        Vec::new()
    }

    /// Pins the calling thread to `cpu`.
    pub fn pin(cpu: usize) {
        #[cfg(target_os = "linux")]
        // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes within it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
        let _ = cpu;
    }
}

/// Threads asleep on ids of their own, none of which a measured round trip uses.
pub struct Sleepers {
    ids: Arc<Vec<u64>>,
    threads: Vec<thread::JoinHandle<()>>,
    lib: &'static str,
}

impl Sleepers {
    /// Starts `n` sleepers (64 KiB stacks) parked through `lib` ("wchan" or
    /// "parking_lot_core") and returns once every one of them is queued: each raises a
    /// counter in `before_sleep`, which runs once it is queued.
    pub fn start(n: usize, lib: &'static str) -> Sleepers {
        let ids: Arc<Vec<u64>> = Arc::new(vec![0; n]);
        let queued = Arc::new(AtomicUsize::new(0));
        let threads = (0..n)
            .map(|i| {
                let (ids, queued) = (ids.clone(), queued.clone());
                thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        let key = &ids[i] as *const u64 as usize;
                        // Release: pairs with the Acquire load below.
                        let counted = || {
                            queued.fetch_add(1, Ordering::Release);
                        };
                        if lib == "wchan" {
                            // SAFETY: see the module docs.
                            let r = unsafe { wchan::park::park(key, ParkOptions::new(), || true, counted, |_, _| {}) };
                            assert!(r.is_unparked());
                        } else {
                            // SAFETY: see the module docs.
                            let r = unsafe {
                                parking_lot_core::park(
                                    key,
                                    || true,
                                    counted,
                                    |_, _| {},
                                    parking_lot_core::DEFAULT_PARK_TOKEN,
                                    None,
                                )
                            };
                            assert!(r.is_unparked());
                        }
                    })
                    .expect("spawning a sleeper thread")
            })
            .collect();
        // Acquire: pairs with each sleeper's Release increment, made once it was queued.
        while queued.load(Ordering::Acquire) < n {
            thread::sleep(Duration::from_millis(1));
        }
        Sleepers { ids, threads, lib }
    }

    /// Wakes every sleeper (each must still be asleep on its own id) and joins them.
    pub fn stop(self) {
        for id in self.ids.iter() {
            let key = id as *const u64 as usize;
            let woken = if self.lib == "wchan" {
                // SAFETY: see the module docs.
                unsafe { wchan::park::unpark_all(key, DEFAULT_UNPARK_TOKEN) }
            } else {
                // SAFETY: see the module docs.
                unsafe { parking_lot_core::unpark_all(key, parking_lot_core::DEFAULT_UNPARK_TOKEN) }
            };
            assert_eq!(woken, 1, "each sleeper is still asleep on its own id");
        }
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

/// A workload's `(time, operations done)` as the time of exactly `iters` operations, for
/// criterion's `iter_custom`.
pub fn scaled(iters: u64, (took, done): (Duration, u64)) -> Duration {
    took.mul_f64(iters as f64 / done as f64)
}
