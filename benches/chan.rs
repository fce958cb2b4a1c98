//! Wait-channel benchmarks: `wchan::{Sleep, wakeup}` (and `wchan::park`) against
//! `parking_lot_core`'s park/unpark.
//!
//! `cargo bench --bench chan`. Groups:
//! - `wakeup_empty`: `wakeup(&id, 1)` on an id nobody sleeps on, against
//!   `parking_lot_core::unpark_one` on a key nobody is parked on;
//! - `sleep_wake_roundtrip`: two threads pass a turn back and forth, each sleeping until it is
//!   its turn; one iteration is a round trip (main wakes the partner, the partner wakes main).
//!   `wchan` uses the OpenBSD face (the turn under a `SpinLock` whose guard `Sleep::unlocking`
//!   releases), `wchan_flag` the face without the lock (each side's turn is the flag its
//!   sleeper passes to `Sleep::abort_if`), `wchan_park` the same protocol as
//!   `parking_lot_core` (an atomic re-checked by `validate` under the bucket lock), and
//!   `parking_lot_core_locked` parking_lot_core with `wchan`'s protocol (the same `SpinLock`,
//!   released in `before_sleep`);
//! - `wake_latency/<impl>/<sleepers>`: that round trip while 0, 100, 1,000 or 10,000 other
//!   threads (64 KiB stacks) sleep on ids of their own, all queued before the clock starts
//!   and all woken at the end.
//!
//! The workloads are `benches/workloads/mod.rs`, shared with `examples/compare.rs`.

#[path = "workloads/mod.rs"]
mod workloads;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use workloads::{roundtrip, scaled, Chan, Pin, PlcLocked, PlcPark, Sleepers, WchanFlag, WchanPark, WchanSleep};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn wakeup_empty(c: &mut Criterion) {
    let mut g = c.benchmark_group("wakeup_empty");
    g.bench_function("wchan", |b| b.iter_custom(|n| scaled(n, workloads::wakeup_empty_wchan(n))));
    g.bench_function("parking_lot_core", |b| b.iter_custom(|n| scaled(n, workloads::wakeup_empty_plc(n))));
    g.finish();
}

fn one<C: Chan>(g: &mut Group<'_>, id: BenchmarkId) {
    g.bench_function(id, |b| b.iter_custom(|n| scaled(n, roundtrip::<C>(Pin::SameCpu, n))));
}

fn sleep_wake_roundtrip(c: &mut Criterion) {
    let mut g = c.benchmark_group("sleep_wake_roundtrip");
    one::<WchanSleep>(&mut g, BenchmarkId::from_parameter(WchanSleep::NAME));
    one::<WchanFlag>(&mut g, BenchmarkId::from_parameter(WchanFlag::NAME));
    one::<WchanPark>(&mut g, BenchmarkId::from_parameter(WchanPark::NAME));
    one::<PlcPark>(&mut g, BenchmarkId::from_parameter(PlcPark::NAME));
    one::<PlcLocked>(&mut g, BenchmarkId::from_parameter(PlcLocked::NAME));
    g.finish();
}

fn wake_latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("wake_latency");
    for n in [0, 100, 1_000, 10_000] {
        let others = Sleepers::start(n, "wchan");
        one::<WchanSleep>(&mut g, BenchmarkId::new(WchanSleep::NAME, n));
        others.stop();
        let others = Sleepers::start(n, "parking_lot_core");
        one::<PlcPark>(&mut g, BenchmarkId::new(PlcPark::NAME, n));
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
    targets = wakeup_empty, sleep_wake_roundtrip, wake_latency
}
criterion_main!(benches);
