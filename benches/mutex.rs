//! Mutex benchmarks: wchan::Mutex against std::sync::Mutex and parking_lot::Mutex.
//!
//! `cargo bench --bench mutex`. Groups:
//! - `mutex_uncontended`: lock, short critical section, unlock, on one thread;
//! - `mutex_contended/<impl>/<threads>`: 2, 4 and 8 threads hammer one lock (8 oversubscribes a
//!   2-core machine on purpose); time per acquisition, over all threads;
//! - `mutex_many_locks/<impl>/<threads>`: each thread picks one of 64 locks at random.
//!
//! Multi-threaded cases use `iter_custom`: the threads are spawned, wait on a barrier, and the
//! clock runs from the barrier's release until the last one is done.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The three mutexes behind one interface.
trait Lock: Default + Send + Sync + 'static {
    const NAME: &'static str;
    /// Locks, runs the critical section, unlocks.
    fn bump(&self);
}

/// The short critical section: a few dependent arithmetic steps on the protected value.
fn critical(v: &mut u64) {
    *v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *v ^= *v >> 29;
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

/// `threads` threads share `iters` acquisitions of `locks` locks (one chosen at random per
/// acquisition when there are several). Returns the time scaled to exactly `iters`.
fn contended<L: Lock>(threads: usize, locks: usize, iters: u64) -> Duration {
    let per_thread = iters.div_ceil(threads as u64).max(1);
    let locks: Arc<Vec<L>> = Arc::new((0..locks).map(|_| L::default()).collect());
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (locks, barrier) = (locks.clone(), barrier.clone());
            thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
                barrier.wait();
                for _ in 0..per_thread {
                    let i = if locks.len() == 1 {
                        0
                    } else {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        (rng % locks.len() as u64) as usize
                    };
                    locks[i].bump();
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    let took = start.elapsed();
    took.mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
}

fn uncontended(c: &mut Criterion) {
    fn one<L: Lock>(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
        let lock = L::default();
        g.bench_function(L::NAME, |b| b.iter(|| black_box(&lock).bump()));
    }
    let mut g = c.benchmark_group("mutex_uncontended");
    g.throughput(Throughput::Elements(1));
    one::<wchan::Mutex<u64>>(&mut g);
    one::<std::sync::Mutex<u64>>(&mut g);
    one::<parking_lot::Mutex<u64>>(&mut g);
    g.finish();
}

fn many_threads(c: &mut Criterion, group: &str, locks: usize, thread_counts: &[usize]) {
    fn one<L: Lock>(
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        threads: usize,
        locks: usize,
    ) {
        g.bench_with_input(BenchmarkId::new(L::NAME, threads), &threads, |b, &threads| {
            b.iter_custom(|iters| contended::<L>(threads, locks, iters))
        });
    }
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    for &threads in thread_counts {
        one::<wchan::Mutex<u64>>(&mut g, threads, locks);
        one::<std::sync::Mutex<u64>>(&mut g, threads, locks);
        one::<parking_lot::Mutex<u64>>(&mut g, threads, locks);
    }
    g.finish();
}

fn contended_one_lock(c: &mut Criterion) {
    many_threads(c, "mutex_contended", 1, &[2, 4, 8]);
}

fn many_locks(c: &mut Criterion) {
    many_threads(c, "mutex_many_locks", 64, &[4]);
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
    targets = uncontended, contended_one_lock, many_locks
}
criterion_main!(benches);
