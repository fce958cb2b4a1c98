//! Mutex benchmarks: wchan::Mutex against std::sync::Mutex and parking_lot::Mutex.
//!
//! `cargo bench --bench mutex`. Groups:
//! - `mutex_uncontended`: lock, short critical section, unlock, on one thread;
//! - `mutex_contended/<impl>/<threads>`: 2, 4 and 8 threads hammer one lock (8 oversubscribes a
//!   2-core machine on purpose); time per acquisition, over all threads;
//! - `mutex_many_locks/<impl>/<threads>`: each thread picks one of 64 locks at random.
//!
//! The workloads are `benches/workloads/mod.rs`, shared with `examples/compare.rs`.

#[path = "workloads/mod.rs"]
mod workloads;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use workloads::{scaled, Lock};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn uncontended(c: &mut Criterion) {
    fn one<L: Lock>(g: &mut Group<'_>) {
        g.bench_function(L::NAME, |b| b.iter_custom(|iters| scaled(iters, workloads::uncontended::<L>(iters))));
    }
    let mut g = c.benchmark_group("mutex_uncontended");
    g.throughput(Throughput::Elements(1));
    one::<wchan::Mutex<u64>>(&mut g);
    one::<std::sync::Mutex<u64>>(&mut g);
    one::<parking_lot::Mutex<u64>>(&mut g);
    g.finish();
}

fn many_threads(c: &mut Criterion, group: &str, locks: usize, thread_counts: &[usize]) {
    fn one<L: Lock>(g: &mut Group<'_>, threads: usize, locks: usize) {
        g.bench_with_input(BenchmarkId::new(L::NAME, threads), &threads, |b, &threads| {
            b.iter_custom(|iters| scaled(iters, workloads::contended::<L>(threads, locks, iters)))
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
