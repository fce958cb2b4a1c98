//! Condvar benchmarks: wchan::Condvar against std::sync::Condvar and parking_lot::Condvar,
//! each with its own library's mutex.
//!
//! `cargo bench --bench condvar`. Groups:
//! - `condvar_notify_one_empty`, `condvar_notify_all_empty`: a notify with no thread waiting;
//! - `condvar_pingpong`: a round trip main -> partner -> main, each side waiting for its turn
//!   on its own condvar under one mutex;
//! - `condvar_notify_all/<impl>/8`, `condvar_notify_all_long/<impl>/8`: `notify_all` to 8
//!   waiters, timed until every one of them has re-acquired the mutex, run its critical
//!   section (none, or about a microsecond) and gone back to waiting;
//! - `queue_mpmc_4x4`: a bounded queue (capacity 64, one mutex, two condvars), 4 producers and
//!   4 consumers; time per item;
//! - `pool_jobs_8`: 8 workers wait on a condvar, main submits 10,000 tiny jobs one by one and
//!   waits for all; time per job.
//!
//! The workloads are `benches/workloads/mod.rs`, shared with `examples/compare.rs`.

#[path = "workloads/mod.rs"]
mod workloads;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use workloads::{scaled, Pin, PlM, StdM, WchanM};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn one(g: &mut Group<'_>, name: &str, run: impl Fn(u64) -> (Duration, u64)) {
    g.bench_function(name, |b| b.iter_custom(|iters| scaled(iters, run(iters))));
}

/// One group: the workload `run` over the three implementations.
macro_rules! group {
    ($c:expr, $name:expr, $f:ident $(, $arg:expr)*) => {{
        let mut g = $c.benchmark_group($name);
        one(&mut g, "wchan", |n| workloads::$f::<WchanM<_>>($($arg,)* n));
        one(&mut g, "std", |n| workloads::$f::<StdM<_>>($($arg,)* n));
        one(&mut g, "parking_lot", |n| workloads::$f::<PlM<_>>($($arg,)* n));
        g.finish();
    }};
}

fn benches(c: &mut Criterion) {
    group!(c, "condvar_notify_one_empty", notify_empty);
    group!(c, "condvar_notify_all_empty", notify_all_empty);
    group!(c, "condvar_pingpong", pingpong, Pin::SameCpu);
    group!(c, "condvar_notify_all_8", notify_all, 8, false);
    group!(c, "condvar_notify_all_8_long", notify_all, 8, true);
    group!(c, "queue_mpmc_4x4", queue_mpmc, 4, 4);
    group!(c, "pool_jobs_8", pool_jobs, 8);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = condvar;
    config = config();
    targets = benches
}
criterion_main!(condvar);
