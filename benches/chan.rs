//! Wait-channel benchmarks: `wchan::{Sleep, wakeup}` (and `wchan::park`) against
//! `parking_lot_core`'s park/unpark.
//!
//! `cargo bench --bench chan`. Groups:
//! - `wakeup_empty`: `wakeup(&id, 1)` on an id nobody sleeps on, against
//!   `parking_lot_core::unpark_one` on a key nobody is parked on;
//! - `sleep_wake_roundtrip`: two threads pass a turn back and forth, each sleeping until it is
//!   its turn; one iteration is a round trip (main wakes the partner, the partner wakes main).
//!   `wchan` uses the OpenBSD face (the turn under a `SpinLock` whose guard `Sleep::unlocking`
//!   releases), `wchan_park` the same protocol as `parking_lot_core` (an atomic re-checked by
//!   `validate` under the bucket lock);
//! - `wake_latency/<impl>/<sleepers>`: that round trip while 0, 100, 1,000 or 10,000 other
//!   threads (64 KiB stacks) sleep on ids of their own, all queued before the clock starts
//!   and all woken at the end.
//!
//! SAFETY (every `unsafe` call into `wchan::park` here): the key is an address this file owns
//! (a local, a leaked box or a static of its own) and every park and unpark on it follows the
//! protocol of the primitive or test around it.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use wchan::park::{ParkOptions, DEFAULT_UNPARK_TOKEN};
use wchan::{wakeup, Sleep, SpinLock};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn wakeup_empty(c: &mut Criterion) {
    let mut g = c.benchmark_group("wakeup_empty");
    let id = 0u64;
    g.bench_function("wchan", |b| b.iter(|| black_box(wakeup(black_box(&id), 1))));
    g.bench_function("parking_lot_core", |b| {
        b.iter(|| {
            let key = black_box(&id) as *const u64 as usize;
            // SAFETY: the callback does not call into parking_lot_core.
            black_box(unsafe { parking_lot_core::unpark_one(key, |_| parking_lot_core::DEFAULT_UNPARK_TOKEN) })
        })
    });
    g.finish();
}

/// Two threads passing a turn by sleeping on and waking one channel each.
trait Chan: Default + Send + Sync + 'static {
    const NAME: &'static str;
    /// Gives the turn to `to` and wakes it.
    fn give(&self, to: u32);
    /// Sleeps until the turn is `me`.
    fn take(&self, me: u32);
}

/// wchan's OpenBSD face: the turn under a `SpinLock`, its guard handed to `Sleep::unlocking`.
#[derive(Default)]
struct WchanSleep {
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

/// wchan's park API with the turn in an atomic, the protocol `PlcPark` uses.
#[derive(Default)]
struct WchanPark {
    turn: AtomicU32,
    ids: [u64; 2],
}

impl Chan for WchanPark {
    const NAME: &'static str = "wchan_park";
    fn give(&self, to: u32) {
        // Release: pairs with the Acquire load in `take`.
        self.turn.store(to, Ordering::Release);
        unsafe { wchan::park::unpark_one(&self.ids[to as usize] as *const u64 as usize, |_| DEFAULT_UNPARK_TOKEN) };
    }
    fn take(&self, me: u32) {
        let key = &self.ids[me as usize] as *const u64 as usize;
        // Acquire: pairs with the Release store in `give`.
        while self.turn.load(Ordering::Acquire) != me {
            unsafe {
                wchan::park::park(key, ParkOptions::new(), || self.turn.load(Ordering::Relaxed) != me, || {}, |_, _| {})
            };
        }
    }
}

/// parking_lot_core: the turn in an atomic that `park`'s validate re-reads under its lock.
#[derive(Default)]
struct PlcPark {
    turn: AtomicU32,
    ids: [u64; 2],
}

impl Chan for PlcPark {
    const NAME: &'static str = "parking_lot_core";
    fn give(&self, to: u32) {
        // Release: pairs with the Acquire load in `take`.
        self.turn.store(to, Ordering::Release);
        let key = &self.ids[to as usize] as *const u64 as usize;
        // SAFETY: the callback does not call into parking_lot_core.
        unsafe { parking_lot_core::unpark_one(key, |_| parking_lot_core::DEFAULT_UNPARK_TOKEN) };
    }
    fn take(&self, me: u32) {
        let key = &self.ids[me as usize] as *const u64 as usize;
        // Acquire: pairs with the Release store in `give`.
        while self.turn.load(Ordering::Acquire) != me {
            // SAFETY: validate only reads an atomic; the other callbacks do nothing; none
            // calls into parking_lot_core or panics.
            unsafe {
                parking_lot_core::park(
                    key,
                    || self.turn.load(Ordering::Relaxed) != me,
                    || {},
                    |_, _| {},
                    parking_lot_core::DEFAULT_PARK_TOKEN,
                    None,
                );
            }
        }
    }
}

/// `iters` round trips: main wakes the partner, which wakes main at once.
fn roundtrip_time<C: Chan>(iters: u64) -> Duration {
    let chan = Arc::new(C::default());
    let barrier = Arc::new(Barrier::new(2));
    let partner = {
        let (chan, barrier) = (chan.clone(), barrier.clone());
        thread::spawn(move || {
            barrier.wait();
            for _ in 0..iters {
                chan.take(1);
                chan.give(0);
            }
        })
    };
    barrier.wait();
    let start = Instant::now();
    for _ in 0..iters {
        chan.give(1);
        chan.take(0);
    }
    let took = start.elapsed();
    partner.join().unwrap();
    took
}

fn roundtrip(c: &mut Criterion) {
    fn one<C: Chan>(g: &mut Group<'_>) {
        g.bench_function(C::NAME, |b| b.iter_custom(roundtrip_time::<C>));
    }
    let mut g = c.benchmark_group("sleep_wake_roundtrip");
    one::<WchanSleep>(&mut g);
    one::<WchanPark>(&mut g);
    one::<PlcPark>(&mut g);
    g.finish();
}

/// Threads asleep on ids of their own, none of which a measured round trip uses.
struct Sleepers {
    ids: Arc<Vec<u64>>,
    threads: Vec<thread::JoinHandle<()>>,
    wake: fn(&u64),
}

impl Sleepers {
    /// `n` threads with 64 KiB stacks, each running `sleep(&ids[i], &queued)`, which must
    /// raise `queued` only once the thread is queued. Returns once all `n` are.
    fn start(n: usize, sleep: fn(&u64, &AtomicUsize), wake: fn(&u64)) -> Sleepers {
        let ids: Arc<Vec<u64>> = Arc::new(vec![0; n]);
        let queued = Arc::new(AtomicUsize::new(0));
        let threads = (0..n)
            .map(|i| {
                let (ids, queued) = (ids.clone(), queued.clone());
                thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || sleep(&ids[i], &queued))
                    .expect("spawning a sleeper thread")
            })
            .collect();
        // Acquire: pairs with each sleeper's Release increment, made after it was queued.
        while queued.load(Ordering::Acquire) < n {
            thread::sleep(Duration::from_millis(1));
        }
        Sleepers { ids, threads, wake }
    }

    fn stop(self) {
        for id in self.ids.iter() {
            (self.wake)(id);
        }
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

/// A wchan sleeper: queued, then counted (in `before_sleep`, which runs once it is queued).
fn wchan_sleeper(id: &u64, queued: &AtomicUsize) {
    let key = id as *const u64 as usize;
    let r = unsafe {
        wchan::park::park(
            key,
            ParkOptions::new(),
            || true,
            || {
                // Release: pairs with the Acquire load in `Sleepers::start`.
                queued.fetch_add(1, Ordering::Release);
            },
            |_, _| {},
        )
    };
    assert!(r.is_unparked());
}

fn wchan_wake(id: &u64) {
    assert_eq!(wakeup(id, 0), Ok(1));
}

/// A parking_lot_core sleeper, counted the same way.
fn plc_sleeper(id: &u64, queued: &AtomicUsize) {
    let key = id as *const u64 as usize;
    // SAFETY: the callbacks do not call into parking_lot_core or panic.
    let r = unsafe {
        parking_lot_core::park(
            key,
            || true,
            || {
                // Release: pairs with the Acquire load in `Sleepers::start`.
                queued.fetch_add(1, Ordering::Release);
            },
            |_, _| {},
            parking_lot_core::DEFAULT_PARK_TOKEN,
            None,
        )
    };
    assert!(r.is_unparked());
}

fn plc_wake(id: &u64) {
    let key = id as *const u64 as usize;
    // SAFETY: no callback.
    let n = unsafe { parking_lot_core::unpark_all(key, parking_lot_core::DEFAULT_UNPARK_TOKEN) };
    assert_eq!(n, 1);
}

fn wake_latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("wake_latency");
    for n in [0, 100, 1_000, 10_000] {
        let others = Sleepers::start(n, wchan_sleeper, wchan_wake);
        g.bench_with_input(BenchmarkId::new(WchanSleep::NAME, n), &n, |b, _| {
            b.iter_custom(roundtrip_time::<WchanSleep>)
        });
        others.stop();
        let others = Sleepers::start(n, plc_sleeper, plc_wake);
        g.bench_with_input(BenchmarkId::new(PlcPark::NAME, n), &n, |b, _| b.iter_custom(roundtrip_time::<PlcPark>));
        others.stop();
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = wakeup_empty, roundtrip, wake_latency
}
criterion_main!(benches);
